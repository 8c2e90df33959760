"""Every command's ``--help`` in click's plain layout, as a person reads it.

Typer's plain help names Python types (``MODEL <path>``, ``--num-runs <int range>``,
``[ids]... <list[str]>``, ``{model}`` in the usage line) and ranges as ``x>=1``. This
command class prints what the user types instead: the argument or option's metavar
(``MODEL``, ``--num-runs N``), then the help text and, in brackets, its default (a
string ``show_default`` says it in words), its range in words, its environment
variable and whether it is required. Click's formatter still wraps at the terminal.
"""

from __future__ import annotations

import textwrap

import typer
from typer import _click
from typer.core import TyperCommand

__all__ = ["PlainHelpCommand", "use_plain_help"]


def _number(value: float) -> str:
    return f"{value:g}"


def _range(param: _click.Parameter) -> str | None:
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None and high is not None:
        return f"{_number(low)} to {_number(high)}"
    if low is not None:
        return f"at least {_number(low)}"
    if high is not None:
        return f"at most {_number(high)}"
    return None


def _default(param: _click.Parameter, ctx: _click.Context) -> str | None:
    shown = getattr(param, "show_default", False)
    if isinstance(shown, str):
        return shown
    if not shown and not ctx.show_default:
        return None
    resilient, ctx.resilient_parsing = ctx.resilient_parsing, True
    try:
        value = param.get_default(ctx, call=False)
    finally:
        ctx.resilient_parsing = resilient
    if getattr(param, "is_flag", False):  # a switch: name the side that is on by default
        secondary = getattr(param, "secondary_opts", [])
        if not secondary:
            return None
        return param.opts[0] if value else secondary[0]
    if value is None or value == [] or value == () or callable(value):
        return None
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return _number(value) if isinstance(value, float) else str(value)


def _metavar(param: _click.Parameter) -> str:
    name = param.metavar or (param.name or "").upper()
    if param.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name


def _help(param: _click.Parameter, ctx: _click.Context) -> str:
    extra = []
    envvar = getattr(param, "envvar", None)
    if envvar and getattr(param, "show_envvar", True):
        extra.append(f"env var: {envvar if isinstance(envvar, str) else ', '.join(envvar)}")
    default = _default(param, ctx)
    if default:
        extra.append(f"default: {default}")
    limits = _range(param)
    if limits:
        extra.append(limits)
    if param.required:
        extra.append("required")
    text = getattr(param, "help", None) or ""
    if extra:
        text = f"{text}  [{'; '.join(extra)}]" if text else f"[{'; '.join(extra)}]"
    return text


def _record(param: _click.Parameter, ctx: _click.Context) -> tuple[str, str]:
    if param.param_type_name == "argument":
        return _metavar(param), _help(param, ctx)
    value = "" if getattr(param, "is_flag", False) else f" {_metavar(param)}"
    names = [_click.formatting.join_options(param.opts)[0] + value]
    if getattr(param, "secondary_opts", None):
        names.append(_click.formatting.join_options(param.secondary_opts)[0])
    return " / ".join(names), _help(param, ctx)


class _Formatter(_click.HelpFormatter):
    """Click's formatter, but a definition list never breaks a line inside a word
    (``--min-secs``, ``bgnn-deploy``): terms, then their text wrapped beside them (or
    below a term too wide for the first column)."""

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        if not rows:
            return
        first = min(max(len(term) for term, _ in rows), col_max)
        indent = " " * self.current_indent
        column = self.current_indent + first + col_spacing
        width = max(self.width - column, 20)
        for term, text in rows:
            lines = textwrap.wrap(text, width, break_on_hyphens=False) if text else []
            if len(term) <= first:
                head = f"{indent}{term:<{first + col_spacing}}"
                self.write(f"{head}{lines[0]}\n" if lines else f"{indent}{term}\n")
                lines = lines[1:]
            else:
                self.write(f"{indent}{term}\n")
            for line in lines:
                self.write(f"{'':<{column}}{line}\n")


class _Context(_click.Context):
    formatter_class = _Formatter


class PlainHelpCommand(TyperCommand):
    """A Typer command whose help and usage line show metavars, never type names."""

    context_class = _Context

    def collect_usage_pieces(self, ctx: _click.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = _metavar(param)
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        visible = [p for p in self.get_params(ctx) if not getattr(p, "hidden", False)]
        for title, kind in (("Arguments", "argument"), ("Options", "option")):
            rows = [_record(p, ctx) for p in visible if p.param_type_name == kind]
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


def use_plain_help(app: typer.Typer) -> None:
    """Give every command of ``app`` and its sub-apps :class:`PlainHelpCommand` (unless a
    command names its own class); call it once the commands are registered."""
    for command in app.registered_commands:
        if command.cls in (None, TyperCommand):  # Typer's default
            command.cls = PlainHelpCommand
    for group in app.registered_groups:
        if group.typer_instance is not None:
            use_plain_help(group.typer_instance)
