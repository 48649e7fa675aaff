"""Everything wsp prints. Plans, tables and trees go through rich; errors are one plain line."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from wsp.actions import ActionKind
from wsp.channels import redact_text

if TYPE_CHECKING:
    import networkx as nx
    from rich.console import Console

    from wsp.planner import Action, Plan
    from wsp.reconciler import Outcome


class _Redacting:
    """A stream that masks URL credentials (`user:pass@`, conda's `/t/<token>`) in all it
    is given: the last net under everything wsp prints. A stream closed before wsp started
    (None: `2>&-`) swallows what it is given."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream if stream is not None else open(os.devnull, "w")  # noqa: SIM115

    def write(self, text: str) -> int:
        return int(self._stream.write(redact_text(text)) or 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@dataclass
class Settings:
    """How much wsp says, and how: the global -q/-v/--no-color (set once by the CLI,
    before anything is printed)."""

    quiet: bool = False  # no progress, notes or info lines: data, warnings and errors only
    verbose: int = 0  # unchanged envs in plans; rattler's whole chain of causes
    no_color: bool = False  # also when NO_COLOR is set (rich reads it)


settings = Settings()


def configure(*, quiet: bool = False, verbose: int = 0, no_color: bool = False) -> None:
    settings.quiet, settings.verbose, settings.no_color = quiet, verbose, no_color
    out.cache_clear()
    err.cache_clear()


@cache
def out() -> Console:
    from rich.console import Console

    return Console(
        file=_Redacting(sys.stdout),
        soft_wrap=True,
        highlight=False,
        no_color=settings.no_color or None,
    )


@cache
def err() -> Console:
    from rich.console import Console

    return Console(
        file=_Redacting(sys.stderr),
        soft_wrap=True,
        highlight=False,
        no_color=settings.no_color or None,
    )


def _unstyled(stream: Any) -> bool:
    """Whether rich would print to `stream` without any style: it is no terminal and
    nothing (FORCE_COLOR, TTY_COMPATIBLE, a Jupyter kernel) asks for styles anyway."""
    if "FORCE_COLOR" in os.environ or "TTY_COMPATIBLE" in os.environ or "IPython" in sys.modules:
        return False
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return False


def say(markup: str, plain: str, *, stderr: bool = False) -> None:
    """One line, `markup` for rich; written as `plain` (the same words without markup)
    where rich would not style it, so that a one-line answer (the in-sync plan, in CI or
    a script) does not load rich (~20 ms)."""
    stream = sys.stderr if stderr else sys.stdout
    if _unstyled(stream):
        stream.write(redact_text(plain) + "\n")
    else:
        (err() if stderr else out()).print(markup)


class _Page:
    """Lines for stdout, each printed whole (never wrapped): in rich markup through rich,
    or, where rich would not style them (see `say`), as plain text without loading rich.
    `mark` and `esc` make a line's markup in the first case, nothing in the second."""

    def __init__(self) -> None:
        self.console = None if _unstyled(sys.stdout) else out()
        self.lines: list[str] = []

    def esc(self, text: object) -> str:
        return esc(text) if self.console is not None else str(text)

    def mark(self, style: str, text: str) -> str:
        return f"[{style}]{text}[/]" if self.console is not None and style else text

    def write(self, *, soft_wrap: bool = True) -> None:
        if self.console is None:
            sys.stdout.write(redact_text("".join(line + "\n" for line in self.lines)))
            return
        for line in self.lines:
            self.console.print(line, soft_wrap=soft_wrap)


def esc(text: object) -> str:
    from rich.markup import escape

    return escape(str(text))


def error_line(message: str, *, located: bool = False) -> None:
    """One plain line on stderr, never wrapped or styled: `error: ...`, or as it is when
    `located` (`workspace.toml:3:1: ...`, the form editors jump to)."""
    text = redact_text(" ".join(message.split()))
    if not located:
        text = f"error: {text}"
    if sys.stderr is None:  # started with stderr closed (`2>&-`): the exit code says it
        return
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def print_json(data: Any) -> None:
    import json

    sys.stdout.write(redact_text(json.dumps(data, indent=2)) + "\n")
    sys.stdout.flush()


def info(message: str) -> None:
    """A line for people on stderr (what was done, a note, a next step); -q drops it."""
    if not settings.quiet:
        err().print(message)


# -- plan ----------------------------------------------------------------------------------


def _pkg(p: Any, color: str, sign: str, tag: str) -> str:
    """`+ numpy 1.26.4 (py_0)` for conda, `+ tinylib 1.0.0 (pip)` for pip."""
    detail = tag or f" [dim]({esc(p.build)})[/]"
    return f"      [{color}]{sign} {esc(p.name)} {esc(p.version)}[/]{detail}"


def render_plan(
    plan: Plan, *, show_noop: bool = False, stderr: bool = False, next_steps: bool = True
) -> None:
    """The plan for people; `next_steps`: the ways forward of a blocked env (apply says
    them once, after its summary)."""
    show_noop = show_noop or settings.verbose > 0
    notes = () if settings.quiet else plan.notes
    if notes:
        c = err() if stderr else out()
        for note in notes:
            c.print(f"[dim]note:[/] {esc(note)}")
    if not plan.has_changes:
        unchanged = plan.summary["no-op"]
        match = f"{unchanged} {'env matches' if unchanged == 1 else 'envs match'} workspace.toml."
        say(f"[green]No changes.[/] {match}", f"No changes. {match}", stderr=stderr)
        return
    c = err() if stderr else out()
    changes = [a for a in plan.actions if a.is_change or show_noop]
    c.print(
        f"wsp will perform the following actions in workspace [bold]{esc(plan.workspace)}[/]:\n"
    )
    for a in changes:
        _render_action(c, a, next_steps=next_steps)
    c.print(summary_line(plan))
    if plan.unknown:
        from wsp.netfail import OFFLINE_NOTE

        c.print(
            "[yellow]warning:[/] package versions are unknown: `wsp apply` will change "
            "nothing until the channel can be reached"
        )
        for hint in dict.fromkeys(a.unknown_hint for a in plan.unknown if a.unknown_hint):
            c.print(f"  [dim]hint:[/] {esc(hint)}")
        c.print(f"  [dim]note:[/] {esc(OFFLINE_NOTE)}")


def _render_action(c: Console, a: Action, *, next_steps: bool = True) -> None:
    symbol, color = a.kind.symbol, a.kind.color
    kind = ("kernel only" if a.kernel_changes else "no change") if a.kind == "no-op" else a.kind
    c.print(f"  [{color}]{symbol} {esc(a.env)}[/] [bold]{kind}[/]  [dim]{esc(a.prefix)}[/]")
    for r in a.reasons:
        c.print(f"      [dim]# {esc(r.message)}[/]")
        if r.next_steps and next_steps:
            c.print("      ways forward:")
            for step in r.next_steps:
                c.print(f"        - {esc(step)}")
    if a.lock_id and not any(r.code == "rollback" for r in a.reasons):  # (a kept build's)
        c.print("      [dim]# packages from wsp.lock[/]")
    if a.unknown:
        c.print(f"      [yellow]? {esc(a.unknown)}[/]")
        if a.specs or a.pip:
            wanted = ", ".join([*a.specs, *(f"{r} (pip)" for r in a.pip)])
            c.print(f"      [dim]declared: {esc(wanted)}[/]")
    for diff, tag in ((a.diff, ""), (a.pip_diff, " [blue](pip)[/]")):
        if diff is None:
            continue
        for p in diff.add:
            c.print(_pkg(p, "green", "+", tag))
        for old, new in diff.change:
            arrow = f"{esc(old.version)} -> {esc(new.version)}"
            if old.version == new.version:
                arrow = f"{esc(old.version)} ({esc(old.build)} -> {esc(new.build)})"
            c.print(f"      [yellow]~ {esc(old.name)} {arrow}[/]{tag}")
        for p in diff.remove:
            c.print(_pkg(p, "red", "-", tag))
    if a.marker_only and not a.unknown and not any(str(r.code) == "refresh" for r in a.reasons):
        c.print("      [dim]= packages already match: no package is installed or removed[/]")
    for name in a.pip_provided:
        c.print(f"      [dim]= {esc(name)} (a pip dependency conda already provides)[/]")
    if a.kind in ("create", "replace"):
        for name, path in a.editables:
            c.print(f"      [green]+ {esc(name)}[/] [blue](editable)[/] [dim]{esc(path)}[/]")
    if a.kernel is not None and a.kernel.action != "no-op":
        sign, color = _KERNEL_LOOK.get(a.kernel.action, ("!", "red"))
        why = "; ".join(r.message for r in a.kernel.reasons)
        c.print(
            f"      [{color}]{sign} kernel {esc(a.kernel.name)}[/] [blue](jupyter)[/]"
            + (f" [dim]# {esc(why)}[/]" if why else "")
        )
    c.print()


_KERNEL_LOOK = {
    "create": ("+", "green"),
    "update": ("~", "yellow"),
    "remove": ("-", "red"),
    "blocked": ("!", "red"),
}


def summary_line(plan: Plan) -> str:
    s = plan.summary
    parts = [
        f"{s['create']} to create",
        f"{s['update']} to update",
        f"{s['replace']} to replace",
        f"{s['prune']} to prune",
    ]
    line = f"[bold]Plan:[/] {', '.join(parts)}; {s['no-op']} unchanged."
    if s["blocked"]:
        line += f" [red]{s['blocked']} blocked.[/]"
    return line


# -- apply progress --------------------------------------------------------------------------


class ApplyDisplay:
    """A rich progress bar per env on a terminal; one line per finished env elsewhere."""

    def __init__(self) -> None:
        # rich only where it may draw: a pipe gets plain lines (and no ~20 ms import)
        self._live = not settings.quiet and not _unstyled(sys.stderr) and err().is_terminal
        self._lock = threading.Lock()
        self._tasks: dict[str, Any] = {}
        self._progress: Any = None

    def __enter__(self) -> ApplyDisplay:
        return self

    def _start(self) -> None:
        """The live display, from the first env on (never around a plan or a prompt)."""
        if self._live and self._progress is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err(),
                transient=False,
            )
            self._progress.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)

    def started(self, action: Action) -> None:
        with self._lock:
            self._start()
            if self._progress is not None:
                self._tasks[action.env] = self._progress.add_task(
                    f"{action.kind} {esc(action.env)}", total=None
                )

    def progress(self, action: Action, done: int, total: int) -> None:
        if self._progress is not None and action.env in self._tasks:
            self._progress.update(self._tasks[action.env], completed=done, total=total or None)

    def finished(self, action: Action, error: str | None) -> None:
        destroyed = any(str(r.code) == "destroy" for r in action.reasons)
        verb = "destroyed" if destroyed else done_verb(action)
        if self._progress is not None and action.env in self._tasks:
            task = self._tasks[action.env]
            status = "[red]failed[/]" if error else f"[green]{verb}[/]"
            # operations done of those rattler announced (packages linked or unlinked)
            total = next((t.total for t in self._progress.tasks if t.id == task), None) or 1
            self._progress.update(
                task, description=f"{esc(action.env)}: {status}", total=total, completed=total
            )
        elif error is None and not settings.quiet:
            err().print(f"[green]{esc(action.env)}: {verb}[/] [dim]{esc(action.prefix)}[/]")
        if error:
            what = "kernel" if action.kind is ActionKind.NOOP else action.kind
            err().print(f"[red]{esc(action.env)}: {what} failed:[/] {esc(error)}")

    def warned(self, message: str) -> None:
        err().print(f"[yellow]warning:[/] {esc(message)}")


_KERNEL_DONE = {"create": "written", "update": "rewritten", "remove": "removed"}


def done_verb(action: Action, n: int = 1) -> str:
    """How a summary says `action` was done: `created`, ..., or, for a no-op carried out
    for its kernel alone, `kernel removed` (`kernels removed` when `n` > 1)."""
    kernel = action.kernel.action if action.kernel is not None else ""
    if action.kind is ActionKind.NOOP and (done := _KERNEL_DONE.get(kernel)):
        return f"kernel{'s' if n > 1 else ''} {done}"
    return action.kind.past


def apply_summary(
    outcomes: Sequence[Outcome],
    *,
    blocked: Sequence[Action] = (),
    not_started: Sequence[Action] = (),
    stderr: bool = False,
) -> None:
    """`Apply complete: 2 created.`, or what was left undone: it agrees with the exit code
    (0 only when everything planned was done)."""
    c = err() if stderr else out()
    done: dict[str, list[Action]] = {}
    failed = [o for o in outcomes if not o.ok]
    for o in outcomes:
        if o.ok:
            done.setdefault(done_verb(o.action), []).append(o.action)
    parts = [f"{len(a)} {done_verb(a[0], len(a))}" for a in done.values()]
    if built := [o.action.env for o in failed if o.built]:  # then its kernel failed
        kernel = "their kernels" if len(built) > 1 else "its kernel"
        parts.append(f"{', '.join(built)} built but not {kernel}")
    parts = parts or ["nothing changed"]
    undone = []
    if failed:
        undone.append(f"{len(failed)} failed ({', '.join(o.action.env for o in failed)})")
    if blocked:
        undone.append(f"{len(blocked)} blocked ({', '.join(a.env for a in blocked)})")
    if not_started:
        undone.append(f"{len(not_started)} not started ({', '.join(a.env for a in not_started)})")
    if undone:
        head = "Apply finished with errors:" if failed else "Apply incomplete:"
        c.print(f"[red]{head}[/] {', '.join(parts)}; {'; '.join(esc(u) for u in undone)}.")
    else:
        c.print(f"[green]Apply complete:[/] {', '.join(parts)}.")


def destroy_summary(outcomes: Sequence[Outcome]) -> None:
    """`Destroyed 2 envs and removed 1 kernel.` (and what failed): destroy's own words, not
    apply's. A kernel removed on its own (its env already gone) is no env destroyed."""
    done = [o for o in outcomes if o.ok and o.action.kind is not ActionKind.NOOP]
    failed = [o for o in outcomes if not o.ok]
    envs = f"{len(done)} env{'s' if len(done) != 1 else ''}"
    kernels = [o.action.kernel for o in outcomes if o.ok]
    if kernels := sum(k is not None and k.action == "remove" for k in kernels):
        envs += f" and removed {kernels} kernel{'s' if kernels != 1 else ''}"
    if failed:
        out().print(
            f"[red]Destroy finished with errors:[/] destroyed {envs}, {len(failed)} failed."
        )
    else:
        out().print(f"[green]Destroyed {envs}.[/]")


def confirm(question: str) -> bool:
    from rich.prompt import Confirm

    return Confirm.ask(question, console=err(), default=False)


def _need_terminal(verb: str, hint: str) -> None:
    """Refuse at once, instead of waiting for an answer, when stdin is not a terminal."""
    if not sys.stdin.isatty():
        from wsp.errors import WspError

        raise WspError(
            f"refusing to {verb} without confirmation: stdin is not a terminal", hint=hint
        )


def confirmed(question: str, *, verb: str, hint: str) -> bool:
    """Ask `question`; when stdin is not a terminal, refuse at once instead of waiting."""
    _need_terminal(verb, hint)
    return confirm(question)


def confirmed_deletion(deleting: Sequence[Action], *, verb: str, hint: str, also: int = 0) -> bool:
    """The stronger prompt before envs are deleted (a replace, a prune, destroy): every
    env it deletes named, and only `yes` typed out goes on. `also`: the other changes
    of the same plan, carried out with them."""
    _need_terminal(verb, hint)
    from rich.prompt import Prompt

    c = err()
    n = len(deleting)
    c.print(f"[bold red]This deletes {n} env{'s' if n != 1 else ''}:[/]")
    for a in deleting:
        what = "deleted, then built again" if a.kind is ActionKind.REPLACE else "deleted"
        why = f" [dim]# {esc(a.reasons[0].message)}[/]" if a.reasons else ""
        c.print(f"  [red]{esc(a.env)}[/] {esc(a.prefix)}: {what}{why}")
    more = f" and make the {also} other change{'s' if also != 1 else ''}" if also else ""
    answer = Prompt.ask(
        f"Type [bold]yes[/] to delete {'it' if n == 1 else 'them'}{more}",
        console=c,
        default="",
        show_default=False,  # not an empty `()` after the question
    )
    return answer.strip().lower() == "yes"


# -- status and graph ------------------------------------------------------------------------

_STATE_STYLE = {
    "in sync": "green",
    "drifted": "yellow",
    "out of date": "yellow",
    "missing": "red",
    "half-built": "red",
    "not owned": "red",
    "undeclared": "magenta",
}


def render_status(
    workspace: str,
    rows: Iterable[dict[str, Any]],
    *,
    description: str | None = None,
    variants: bool = False,
) -> None:
    """One line per env, columns padded, the path last and never cut or wrapped (it is
    what people copy). When a line would not fit the terminal, each env's path goes on a
    line of its own below it; piped, every env is one line, whatever its length."""
    rows = list(rows)
    kernels = any("kernel" in r for r in rows)
    head = [
        "project",
        "env",
        "python",
        "state",
        *(["kernel"] if kernels else []),
        *(["built for"] if variants else []),
    ]
    cells = [
        [
            r["project"] or "—",
            r["env"],
            r["python"] or "—",
            r["state"],
            *(
                [f"{r['kernel']['name']} ({r['kernel']['state']})" if r.get("kernel") else "—"]
                if kernels
                else []
            ),
            *([_built_for(r)] if variants else []),
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *cells, strict=False)]

    width = 2 + sum(widths) + 2 * (len(widths) - 1)  # of the columns, without markup
    page = _Page()

    def line(values: Sequence[str], state_style: str = "", *, pad_last: bool = True) -> str:
        """The padded columns (in markup when the page is styled)."""
        parts = []
        for i, (value, width) in enumerate(zip(values, widths, strict=True)):
            pad = pad_last or i < len(values) - 1
            text = page.esc(value) + (" " * (width - len(value)) if pad else "")
            parts.append(page.mark(state_style, text) if i == 3 else text)
        return "  " + "  ".join(parts)

    title = f"workspace {page.mark('bold', page.esc(workspace))}" + (
        " " + page.mark("dim", f"— {page.esc(description)}") if description else ""
    )
    page.lines.append(title)
    longest = max((width + 2 + len(r["prefix"]) for r in rows), default=0)
    c = page.console
    stacked = c is not None and c.is_terminal and longest > c.width
    columns = line(head, pad_last=not stacked)
    page.lines.append(page.mark("dim", f"{columns}{'' if stacked else '  path'}"))
    for values, r in zip(cells, rows, strict=True):
        text = line(values, _STATE_STYLE.get(r["state"], ""), pad_last=not stacked)
        if stacked:
            page.lines += [text, page.mark("dim", f"    {page.esc(r['prefix'])}")]
        else:
            page.lines.append(f"{text}  {page.esc(r['prefix'])}")
    page.write()


def _built_for(row: dict[str, Any]) -> str:
    """`linux-64-cuda (cuda 12.0)`, or — when unknown."""
    if not row.get("variant"):
        return "—"
    reqs = row.get("system_requirements") or {}
    detail = ", ".join(f"{k} {v}" for k, v in sorted(reqs.items()))
    return str(row["variant"]) + (f" ({detail})" if detail else "")


def host_line(host: dict[str, Any]) -> str:
    """`__unix 0, __linux 6.8.0, __glibc 2.39, __cuda 12.4, __archspec x86_64_v3`."""
    parts = []
    for v in host["virtual_packages"]:
        shown = v["build"] if v["name"] == "__archspec" else v["version"]
        parts.append(f"{v['name']} {shown}")
    return ", ".join(parts) or "none"


def render_host(host: dict[str, Any]) -> None:
    """This machine's virtual packages (what apply checks envs against): one line, wrapped
    at a terminal's width (piped, never)."""
    page = _Page()
    if host.get("problem"):
        page.lines.append(f"{page.mark('yellow', 'host:')} {page.esc(host['problem'])}")
    else:
        names = {v["name"] for v in host["virtual_packages"]}
        overrides = host["overrides"]
        page.lines.append(f"{page.mark('dim', 'host:')} {page.esc(host_line(host))}")
        if "__cuda" not in names and ("__linux" in names or "__win" in names):
            why = (
                "CONDA_OVERRIDE_CUDA is set and empty"
                if overrides.get("CONDA_OVERRIDE_CUDA") == ""
                else "no NVIDIA driver found (CONDA_OVERRIDE_CUDA=<version> stands in for one)"
            )
            page.lines.append(page.mark("dim", f"      no __cuda: {why}"))
        for var, value in sorted(overrides.items()):
            if value:
                said = f"      {page.esc(var)}={page.esc(value)} is set (conda's override)"
                page.lines.append(page.mark("dim", said))
    page.write(soft_wrap=page.console is None or not page.console.is_terminal)


def render_info(
    workspace: str, platform: str, host: dict[str, Any], rows: Iterable[dict[str, Any]]
) -> None:
    """`wsp info`: this machine, then per project its platform variants here."""
    from rich.table import Table

    c = out()
    c.print(f"workspace [bold]{esc(workspace)}[/] on [bold]{esc(platform)}[/]")
    render_host(host)
    table = Table(title_justify="left")
    for col in ("project", "env", "built for", "variants here (apply takes the first it can run)"):
        table.add_column(col, overflow="fold")
    for r in rows:
        shown = []
        for v in r["candidates"]:
            reqs = ", ".join(f"{k} {x}" for k, x in sorted(v["system_requirements"].items()))
            label = esc(v["name"]) + (f" ({esc(reqs)})" if reqs else "")
            if v.get("runs_here") is None:
                shown.append(label)
            elif v["runs_here"]:
                mark = "[green]runs here[/]"
                shown.append(
                    f"{label}: {mark}" + (" [bold]<- picked[/]" if r["picks"] == v["name"] else "")
                )
            else:
                why = "; ".join(v["missing"] + v["hints"])
                shown.append(f"{label}: [red]can't run here[/] [dim]({esc(why)})[/]")
            if v.get("unchecked"):
                names = ", ".join(v["unchecked"])
                shown.append(f"  [dim]{esc(names)}: can't be detected, not checked[/]")
        built = {"variant": r["built_for"], "system_requirements": r["built_with"]}
        table.add_row(esc(r["project"]), esc(r["env"]), esc(_built_for(built)), "\n".join(shown))
    c.print(table)


def render_graph(workspace: str, g: nx.DiGraph, pythons: dict[str, str | None]) -> None:
    from rich.tree import Tree

    tree = Tree(f"[bold]{esc(workspace)}[/]")
    for node in sorted(n for n in g if n[0] == "project"):
        name = node[1]
        py = pythons.get(name)
        branch = tree.add(f"[bold]{esc(name)}[/]" + (f" [dim]python {esc(py)}[/]" if py else ""))
        _graph_children(g, node, branch, set())
    out().print(tree)


def _graph_children(
    g: nx.DiGraph, node: tuple[str, str], branch: Any, seen: set[tuple[str, str]]
) -> None:
    for succ in sorted(g.successors(node), key=lambda n: g.edges[node, n]["index"]):
        kind = g.edges[node, succ]["kind"]
        label = f"[cyan]{kind}[/] {esc(succ[1])}" + (
            " [dim](template)[/]" if succ[0] == "template" else ""
        )
        child = branch.add(label)
        if succ not in seen:
            _graph_children(g, succ, child, seen | {succ})


# -- watch -----------------------------------------------------------------------------------

_json_lock = threading.RLock()


def json_line(data: Any) -> None:
    """One JSON object on one line of stdout (`wsp watch --json`: one event per line)."""
    import json

    with _json_lock:
        sys.stdout.write(redact_text(json.dumps(data, separators=(",", ":"))) + "\n")
        sys.stdout.flush()


class JsonEvents:
    """`wsp watch --json`: every event as a JSON line; install progress is left out."""

    def __enter__(self) -> JsonEvents:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def emit(self, event: dict[str, Any]) -> None:
        json_line(event)

    def progress(self, env: str, done: int, total: int) -> None:
        pass


class WatchView:
    """`wsp watch` for people: a live panel on a terminal, one plain line per event elsewhere."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._live: Any = None
        self.stopping = False  # set from the signal handler: no I/O there
        self._head = ""
        self._status = "starting"
        self._change = ""
        self._results: list[str] = []
        self._pending: list[dict[str, Any]] = []
        self._error = ""

    def __enter__(self) -> WatchView:
        if out().is_terminal:
            from rich.live import Live

            self._live = Live(self, console=out(), refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def __rich__(self) -> Any:
        from rich.console import Group

        with self._lock:
            status = self._status
            if self.stopping and status != "stopped":
                status = "stopping…"
            lines = [self._head, f"[bold]status:[/] {status}"]
            if self._change:
                lines.append(f"[bold]last change:[/] {self._change}")
            lines += [f"  {r}" for r in self._results]
            if self._pending:
                lines.append("[magenta]pending (start with --allow-destroy to apply):[/]")
                lines += [f"  [magenta]{_pending_line(a)}[/]" for a in self._pending]
            if self._error:
                lines.append(f"[red]error:[/] {esc(self._error)}")
            return Group(*lines)

    def _say(self, line: str) -> None:
        if self._live is None:
            out().print(line)

    def progress(self, env: str, done: int, total: int) -> None:
        with self._lock:
            self._status = f"applying {esc(env)} ({done}/{total})"

    def emit(self, event: dict[str, Any]) -> None:
        with self._lock:
            getattr(self, "_on_" + event["event"].replace("-", "_"), lambda e: None)(event)

    def _on_watching(self, e: dict[str, Any]) -> None:
        files = ", ".join(esc(f) for f in e["files"])
        self._head = (
            f"[bold]wsp watch[/] {esc(e['root'])} [dim]· debounce {e['debounce_ms']} ms"
            f"{' · --allow-destroy' if e['allow_destroy'] else ''} · Ctrl-C stops[/]\n"
            f"[dim]watching: {files}[/]"
        )
        self._status = "watching"
        self._say(f"Watching {len(e['files'])} files in {esc(e['root'])}; Ctrl-C stops.")

    def _on_change(self, e: dict[str, Any]) -> None:
        import time

        when = time.strftime("%H:%M:%S", time.localtime(e["ts"]))
        whom = ", ".join(e["projects"]) or "no project"
        self._change = f"{when} {esc(', '.join(e['files']))} [dim]->[/] {esc(whom)}"
        self._results, self._status = [], "planning"
        self._say(f"{when} changed: {esc(', '.join(e['files']))} -> {esc(whom)}")

    def _on_plan(self, e: dict[str, Any]) -> None:
        if not e["apply"]:
            same = e["summary"]["no-op"]
            line = "[green]nothing to apply[/]"
            if same:
                line += f" [dim]({same} env{'s' if same != 1 else ''} in sync)[/]"
            self._results = [line]
            self._say(f"  {line}")

    def _on_pending(self, e: dict[str, Any]) -> None:
        if e["actions"] != self._pending and self._live is None:
            for a in e["actions"]:
                out().print(f"  [magenta]pending: {_pending_line(a)}[/]")
            if e["actions"] and e.get("hint"):
                out().print(f"  [dim]{esc(e['hint'])}[/]")
        self._pending = e["actions"]

    def _on_error(self, e: dict[str, Any]) -> None:
        self._error = e["message"]
        if self._live is None:
            for line in e["message"].splitlines():
                error_line(line, located=e.get("located", False))

    def _on_apply(self, e: dict[str, Any]) -> None:
        self._status = "applying" if e["phase"] == "start" else "watching"
        if e["phase"] == "done" and e["not_started"]:
            line = f"[yellow]not started: {esc(', '.join(e['not_started']))}[/]"
            self._results.append(line)
            self._say(f"  {line}")

    def _on_env(self, e: dict[str, Any]) -> None:
        if e["status"] == "started":
            self._status = f"applying {esc(e['env'])}"
            return
        kind = ActionKind(e["action"])
        sign = kind.symbol
        if e["status"] == "ok":
            line = f"[green]{sign} {esc(e['env'])} {kind.past}[/] [dim]({e['seconds']:.1f} s)[/]"
        else:
            line = f"[red]{sign} {esc(e['env'])} {e['action']} failed:[/] {esc(e['error'])}"
        self._results.append(line)
        self._say(f"  {line}")

    def _on_warning(self, e: dict[str, Any]) -> None:
        line = f"[yellow]warning:[/] {esc(e['message'])}"
        self._results.append(line)
        self._say(f"  {line}")

    def _on_idle(self, e: dict[str, Any]) -> None:
        self._status = "watching"
        if e["ok"]:
            self._error = ""

    def _on_stopped(self, e: dict[str, Any]) -> None:
        self._status = "stopped"
        if e["reason"] == "interrupted":
            self._say("Stopped watching.")


def _pending_line(a: dict[str, Any]) -> str:
    why = f" [dim]# {esc(a['reasons'][0])}[/]" if a["reasons"] else ""
    return f"{ActionKind(a['action']).symbol} {esc(a['env'])} {a['action']}{why}"


# -- policy findings (wsp check) -------------------------------------------------------------

_SEVERITY_STYLE = {"error": "red", "warn": "yellow"}


def render_findings(
    findings: Sequence[Any],
    notes: Sequence[str] = (),
    *,
    summary: bool = True,
    stderr: bool = False,
) -> None:
    """Policy findings grouped by what they are about: code, severity, message, fix."""
    if not (findings or notes or summary):
        return  # nothing to say: rich is not even loaded
    c = err() if stderr else out()
    for note in notes:
        c.print(f"[dim]note:[/] {esc(note)}")
    groups: dict[str, list[Any]] = {}
    for f in findings:
        groups.setdefault(f.subject, []).append(f)
    for subject, items in groups.items():
        c.print(f"[bold]{esc(subject)}[/]")
        for f in items:
            style = _SEVERITY_STYLE.get(f.severity, "")
            c.print(f"  [{style}]{f.code} {f.severity:<5}[/] {esc(f.message)}")
            if f.hint:
                c.print(f"               [dim]fix: {esc(f.hint)}[/]")
        c.print()
    if not summary:
        return
    errors = sum(1 for f in findings if f.severity == "error")
    warns = len(findings) - errors
    if not findings:
        c.print("[green]No findings:[/] every policy holds.")
    else:
        parts = [
            f"{errors} error{'s' if errors != 1 else ''}",
            f"{warns} warning{'s' if warns != 1 else ''}",
        ]
        c.print(f"[{'red' if errors else 'yellow'}]Policy check:[/] {', '.join(parts)}.")
