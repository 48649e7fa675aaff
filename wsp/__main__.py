from wsp.cli import main

main()
