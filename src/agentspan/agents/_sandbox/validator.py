"""``CommandValidator``: a best-effort check of which commands a piece of code runs.

It reads source text, so it is a guard against an agent wandering off (a model asked to
compute something that decides to ``curl`` instead), not a security boundary: code can
build a command name at run time. The sandbox limits are the boundary.
"""

from __future__ import annotations

import os
import re
import shlex

__all__ = ["CommandValidator"]

# Words that are shell syntax or builtins rather than programs: never checked.
_SHELL_WORDS = frozenset(
    [
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "for",
        "while",
        "until",
        "do",
        "done",
        "case",
        "esac",
        "in",
        "function",
        "select",
        "time",
        "coproc",
        "!",
        "[[",
        "]]",
        "{",
        "}",
        "(",
        ")",
        "[",
        "test",
        "echo",
        "printf",
        "read",
        "local",
        "export",
        "declare",
        "typeset",
        "readonly",
        "unset",
        "set",
        "shift",
        "return",
        "exit",
        "break",
        "continue",
        "true",
        "false",
        "cd",
        "pwd",
        "pushd",
        "popd",
        "dirs",
        "let",
        "eval",
        "exec",
        "source",
        ".",
        "alias",
        "unalias",
        "type",
        "command",
        "builtin",
        "hash",
        "trap",
        "wait",
        "jobs",
        "fg",
        "bg",
        "kill",
        "umask",
        "ulimit",
        "getopts",
        "shopt",
        "enable",
        "mapfile",
        "readarray",
        "caller",
        "compgen",
        "complete",
        "help",
        "history",
        "logout",
        "times",
    ]
)

_PY_SUBPROCESS = re.compile(
    r"subprocess\.(?:run|call|check_call|check_output|Popen|getoutput|getstatusoutput)\s*\(\s*"
    r"(?:\[\s*)?(?P<quote>['\"])(?P<text>[^'\"]*)(?P=quote)"
)
_PY_OS = re.compile(
    r"os\.(?:system|popen|exec\w*|spawn\w*)\s*\(\s*(?P<quote>['\"])(?P<text>[^'\"]*)(?P=quote)"
)
_PY_BANG = re.compile(r"^\s*!(?P<text>.+)$", re.MULTILINE)
_SHELL_SPLIT = re.compile(r"\|\||&&|[|;&\n]|\$\(|`|\bthen\b|\bdo\b|\belse\b")
_HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


class CommandValidator:
    """``validate(code, language)`` names the first command ``code`` runs that is not in
    ``allowed_commands`` (``None`` when all are allowed, or the list is empty)."""

    def __init__(self, allowed_commands: list[str] | None = None) -> None:
        self.allowed = {os.path.basename(c) for c in allowed_commands or []}

    def validate(self, code: str, language: str = "python") -> str | None:
        if not self.allowed:
            return None
        lang = language.lower()
        if lang in ("python", "python3"):
            commands = _python_commands(code)
        elif lang in ("bash", "sh", "shell", "zsh"):
            commands = _shell_commands(code)
        else:
            return None
        for command in commands:
            if os.path.basename(command) not in self.allowed:
                allowed = ", ".join(sorted(self.allowed))
                return f"Command '{command}' is not allowed. Allowed commands: {allowed}"
        return None


def _first_word(text: str) -> str | None:
    try:
        words = shlex.split(text, comments=True)
    except ValueError:
        words = text.split()
    for word in words:
        if _ASSIGNMENT.match(word):
            continue  # VAR=value before the command
        return word
    return None


def _python_commands(code: str) -> list[str]:
    found: list[str] = []
    for pattern in (_PY_SUBPROCESS, _PY_OS, _PY_BANG):
        for match in pattern.finditer(code):
            word = _first_word(match.group("text"))
            if word:
                found.append(word)
    return found


def _strip_heredocs(code: str) -> str:
    """Drop heredoc bodies: their lines are data, not commands."""
    lines = code.splitlines()
    kept: list[str] = []
    terminator: str | None = None
    for line in lines:
        if terminator is not None:
            if line.strip() == terminator:
                terminator = None
            continue
        kept.append(line)
        match = _HEREDOC.search(line)
        if match:
            terminator = match.group(1)
    return "\n".join(kept)


def _shell_commands(code: str) -> list[str]:
    text = "\n".join(line for line in _strip_heredocs(code).splitlines() if not line.lstrip().startswith("#"))
    found: list[str] = []
    for segment in _SHELL_SPLIT.split(text):
        word = _first_word(segment.strip().lstrip("({").rstrip(")}"))
        if word and word not in _SHELL_WORDS and not word.startswith(("$", "-", ">", "<")):
            found.append(word.rstrip(")"))
    return found
