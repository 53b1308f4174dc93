"""obsutil's spellings of ``cp``'s options, translated to ferry's before the command line is parsed.

obsutil parses its flags the way Go's ``flag`` package does: one or two dashes, camel-case names, a value
after ``=`` or as the next word (``-recover=ID``, ``-j 5``, ``--dryRun``), and booleans that may be written
``-f=true``. Click would read ``-recover=x`` as ``-r -e...`` and ``-j=1`` as the value ``=1``, so each
spelling obsutil documents for ``cp`` is rewritten into ferry's own long option first (``--jobs=5``). Words
that are values of an option are never rewritten, nor anything after ``--``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ferry.errors import UsageError

# obsutil name -> (ferry's option, takes a value)
OBSUTIL_FLAGS: dict[str, tuple[str, bool]] = {
    "recover": ("--recover", True),
    "r": ("--recursive", False),
    "f": ("--force", False),
    "u": ("--update", False),
    "dryRun": ("--dry-run", False),
    "crr": ("--crr", False),
    "vlength": ("--verify-length", False),
    "vmd5": ("--verify-md5", False),
    "j": ("--jobs", True),
    "p": ("--parallel", True),
    "threshold": ("--threshold", True),
    "ps": ("--part-size", True),
    "acl": ("--acl", True),
    "sc": ("--storage-class", True),
    "meta": ("--meta", True),
    "include": ("--include", True),
    "exclude": ("--exclude", True),
    "timeRange": ("--time-range", True),
    "mf": ("--mf", False),
    "o": ("--output-dir", True),
    "cpd": ("--checkpoint-dir", True),
    "tempFileDir": ("--temp-dir", True),
    "clear": ("--clear", False),
    "config": ("--config", True),
    "payer": ("--payer", True),
}

# ferry's own options of ``cp`` that take a value (their next word is never an option)
FERRY_VALUE_OPTIONS = frozenset(
    {
        "-j",
        "--jobs",
        "--recover",
        "--url-list",
        "--cdn-auth-key",
        "--include",
        "--exclude",
        "--time-range",
        "-o",
        "--output-dir",
        "--threshold",
        "--copy-threshold",
        "--part-size",
        "--ps",
        "-p",
        "--parallel",
        "--checkpoint-dir",
        "--cpd",
        "--temp-dir",
        "--acl",
        "--storage-class",
        "--sc",
        "--meta",
        "--payer",
        "--bwlimit",
        "--retries",
        "--config",
    }
)

_TRUE = ("true", "1", "t", "True", "TRUE", "T")
_FALSE = ("false", "0", "f", "False", "FALSE", "F")


def translate_cp(args: Sequence[str]) -> list[str]:
    """``cp``'s arguments (after the word ``cp``) with obsutil's spellings rewritten as ferry's."""
    out: list[str] = []
    words = list(args)
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            out.extend(words[i - 1 :])
            break
        if not word.startswith("-") or word == "-" or _is_number(word):
            out.append(word)
            continue
        name, eq, value = word.lstrip("-").partition("=")
        spec = OBSUTIL_FLAGS.get(name)
        dashes = len(word) - len(word.lstrip("-"))
        if spec is None or dashes > 2 or (dashes == 2 and f"--{name}" == spec[0]):
            out.append(word)  # ferry's own spelling, or an option neither knows (click will say so)
            if not eq and word in FERRY_VALUE_OPTIONS and i < len(words):
                out.append(words[i])
                i += 1
            continue
        option, takes_value = spec
        if takes_value:
            if eq:
                out.append(f"{option}={value}")
            elif i < len(words):
                out.append(f"{option}={words[i]}")
                i += 1
            else:
                raise UsageError(f"option -{name} needs a value (obsutil's -{name}=VALUE)")
        elif not eq or value in _TRUE:
            out.append(option)
        elif value not in _FALSE:
            raise UsageError(f"invalid value {value!r} for -{name}: expected true or false")
    return out


def translate(argv: Sequence[str]) -> list[str]:
    """The whole command line: only ``cp``'s arguments are rewritten."""
    argv = list(argv)
    for index, word in enumerate(argv):
        if word.startswith("-"):
            if word in ("--help", "--version"):
                return argv
            continue
        if word == "cp":
            return argv[: index + 1] + translate_cp(argv[index + 1 :])
        return argv
    return argv


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True
