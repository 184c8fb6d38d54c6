"""Usage errors read like every other microseg diagnostic (UX.md): one `error: ...` line on
stderr and exit 2, never typer's boxed panel or a traceback; and the option parsers behind
the choice options, whose messages name the option and say what was expected.

typer 0.29 vendors click and exports only BadParameter of its exceptions, so the others come
from `typer._click`; they are imported here and nowhere else.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import Any, NoReturn, TypeVar

import typer
from typer._click import Context
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer.core import TyperCommand, TyperGroup, TyperOption

from microseg.cli.common import EXIT_BAD_INPUT, say
from microseg.render.width import text_width

__all__ = ["MicrosegCommand", "MicrosegGroup", "OptionValueError", "choice", "expected"]

E = TypeVar("E", bound=StrEnum)


class OptionValueError(typer.BadParameter):
    """A bad option value whose message already names the option and what it expects, so
    it is printed as it is rather than behind click's "Invalid value for ..." prefix."""

    def format_message(self) -> str:
        return self.message


def expected(choices: Sequence[str]) -> str:
    """`a, b or c`: the wording of check_output, which the tests and scripts rely on."""
    return f"{', '.join(choices[:-1])} or {choices[-1]}" if len(choices) > 1 else choices[0]


def choice(
    flag: str, kind: type[E], aliases: Mapping[str, str] | None = None
) -> Callable[[str | E], E]:
    """The `parser=` of a choice option. The annotation stays the enum, so typer still lists
    the choices in --help and completes them; the parser only words the refusal. `aliases`:
    other spellings of a member, taken when they are not members themselves."""
    values = [member.value for member in kind]

    def parse(value: str | E) -> E:
        if isinstance(value, kind):  # the default, already a member
            return value
        try:
            return kind(value)
        except ValueError:
            alias = (aliases or {}).get(value)
            if alias is not None and alias in values:
                return kind(alias)
            raise OptionValueError(f"{flag} {value!r}: expected {expected(values)}") from None

    return parse


def _describe(exc: ClickException) -> str:
    """Click's own messages ("Missing option '--from'.") as one diagnostic line, pointing to
    the command's help; ours are already complete sentences."""
    message = " ".join(exc.format_message().split())
    if isinstance(exc, OptionValueError):
        return message
    message = message.rstrip(".")
    if len(message) > 1 and message[0].isupper() and message[1].islower():
        message = message[0].lower() + message[1:]
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and ctx.command.get_help_option(ctx) is not None:
        message += f"; see '{ctx.command_path} {ctx.help_option_names[0]}'"
    return message


def _exit(code: int) -> NoReturn:
    sys.exit(code)


def _bare_flag(option: TyperOption | None) -> TyperOption | None:
    """A flag takes no value, so --help shows no type for it (typer would print `<bool>`)."""
    if option is not None and option.is_flag and option.metavar is None:
        option.metavar = ""
    return option


class MicrosegCommand(TyperCommand):
    """Every command's class: its flags, --help included, without a `<bool>` type."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperOption):
                _bare_flag(param)

    def get_help_option(self, ctx: Context) -> TyperOption | None:
        return _bare_flag(super().get_help_option(ctx))


@contextmanager
def _help_width() -> Iterator[None]:
    """--help off a terminal at the width of every other text output (render/text.py):
    typer's own console would assume 80 columns (or COLUMNS) and split option names and
    choices. Set for this run only. typer.rich_utils (which pulls in rich's Markdown and
    traceback modules, a tenth of a second) is imported only when help or an error is
    shown, so the width goes to it through TERMINAL_WIDTH, which it reads on import, unless
    it is loaded already."""
    if sys.stdout.isatty():
        yield
        return
    loaded = sys.modules.get("typer.rich_utils")
    if loaded is not None:
        saved = getattr(loaded, "MAX_WIDTH", None)
        if saved is None:
            setattr(loaded, "MAX_WIDTH", text_width())  # noqa: B010
        try:
            yield
        finally:
            setattr(loaded, "MAX_WIDTH", saved)  # noqa: B010
        return
    before = os.environ.get("TERMINAL_WIDTH")
    if before is None:
        os.environ["TERMINAL_WIDTH"] = str(text_width())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TERMINAL_WIDTH", None)


class MicrosegGroup(TyperGroup):
    """The app's group: runs click non-standalone so that usage errors reach us, then does
    what standalone mode would, with microseg's error form."""

    def get_help_option(self, ctx: Context) -> TyperOption | None:
        return _bare_flag(super().get_help_option(ctx))

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        with _help_width():
            return self._main(
                args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
            )

    def _main(
        self,
        args: Sequence[str] | None,
        prog_name: str | None,
        complete_var: str | None,
        standalone_mode: bool,
        windows_expand_args: bool,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except NoArgsIsHelpError as exc:  # the help is already printed
            _exit(exc.exit_code)
        except ClickException as exc:
            say(f"error: {_describe(exc)}")
            _exit(exc.exit_code if exc.exit_code else EXIT_BAD_INPUT)
        except typer.Abort:
            sys.stderr.write("aborted\n")
            _exit(1)
        # Non-standalone, click returns a typer.Exit's code and a command's return value
        # (None for all of ours) otherwise.
        _exit(code if isinstance(code, int) else 0)
