"""Every command line the documentation shows is one the real CLI accepts: README.md, docs/*.md, docs/ci/* and
action.yml. Each `provisioner ...` command they show (fenced code blocks, inline code spans, the steps script,
the CI files' `run:` and `script:` lines) names commands that exist and only options those commands have (a
value given to an option that takes none, or a choice it does not offer, is refused too); each
`scripts/benchmark.py` and `scripts/threads_vs_loop.py` line only options their --help lists. Offline and
without running any command: the click group is inspected, the two scripts print their --help.

What counts as a command line is the shell's own rule, not a list of exceptions: the word `provisioner` as the
command of a simple command (first word, after any NAME=value assignments; after `|`, `&&`, `;`, `(`, ...),
comments and here-documents left out. So prose that names `provisioner.yaml`, `provisioner/walk.py` or
`OWNER/provisioner@REF` is not one, and neither is "# provisioner export writes new manifests here". The prose's
short forms (`state list --json`, `plan --destroy`) are checked too (command_lines says which). Placeholders
(NAME, $VAR, <workspace>, ${{ ... }}, ...) stand for any value; a placeholder command (`provisioner COMMAND
--help`) names none to check."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import yaml

from provisioner.cli import cli

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ("scripts/benchmark.py", "scripts/threads_vs_loop.py", "scripts/cpu_by_stage.py")
# The values GitHub Actions and GitLab CI run as shell.
SHELL_KEYS = {"run", "script", "before_script", "after_script"}
# The docs' placeholders, made one shell word before splitting: <workspace>, and GitHub's ${{ expression }}.
PLACEHOLDERS = re.compile(r"<[A-Za-z][\w.-]*>|\$\{\{.*?\}\}")
PLACEHOLDER = "PLACEHOLDER"
SEPARATORS = {"|", "||", "&&", ";", "&", "(", ")", ";;", "|&"}
ASSIGNMENT = re.compile(r"[A-Za-z_]\w*=")
HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")


def documents() -> list[Path]:
    """The documentation whose command lines are the contract."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docs" / "ci").iterdir()),
            ROOT / "action.yml"]


@dataclass(frozen=True)
class Snippet:
    """Shell text from a document: its file and the line it starts on."""
    path: str
    line: int
    text: str
    inline: bool = False  # an inline code span of the prose (not a code block, nor a script)


@dataclass(frozen=True)
class CommandLine:
    """One documented command: the program (`provisioner` or a script's path) and its words after it."""
    path: str
    line: int
    text: str
    program: str
    words: tuple[str, ...]

    def where(self) -> str:
        return f"{self.path}:{self.line}: `{' '.join(self.text.split())}`"  # a continued line as one


# ---- extraction -------------------------------------------------------------------------------------------

def snippets(path: Path, root: Path = ROOT) -> list[Snippet]:
    """The shell text a document shows, by its kind: markdown, YAML (CI files), or a shell script."""
    name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        return [Snippet(name, line, shell, inline) for line, shell, inline in markdown_snippets(text)]
    if path.suffix in (".yml", ".yaml"):
        found = yaml_snippets(text, 1)
    else:
        found = shell_lines(text, 1)
    return [Snippet(name, line, shell) for line, shell in found]


def markdown_snippets(text: str) -> list[tuple[int, str, bool]]:
    """Fenced code blocks (YAML ones by their `run:`/`script:` values, others line by line as shell) and the
    inline code spans of the prose (a span may go on over a line break, not over a blank line)."""
    found, prose, lines, i = [], [], text.split("\n"), 0
    while i < len(lines):
        fence = re.match(r"\s*(`{3,}|~{3,})\s*([\w-]*)", lines[i])
        if not fence:
            prose.append((i + 1, lines[i]))
            i += 1
            continue
        start, marker, language = i + 1, fence.group(1), fence.group(2).lower()
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(marker):
            i += 1
        block = "\n".join(lines[start:i])
        i += 1
        if language in ("yaml", "yml"):
            try:
                found += [(line, shell, False) for line, shell in yaml_snippets(block, start + 1)]
                continue
            except yaml.YAMLError:
                pass  # a fragment that is not a whole document: read as text
        found += [(line, shell, False) for line, shell in shell_lines(block, start + 1)]
    paragraph: list[tuple[int, str]] = []
    for number, line in prose + [(0, "")]:
        if line.strip():
            paragraph.append((number, line))
        elif paragraph:
            found += [(line, span, True) for line, span in code_spans(paragraph)]
            paragraph = []
    return sorted(found, key=lambda snippet: snippet[0])


def code_spans(paragraph: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """CommonMark's inline code: a run of N backticks up to the next run of exactly N; a run without its match
    is a literal backtick. Line breaks inside a span are spaces."""
    text = "\n".join(line for _, line in paragraph)
    first = paragraph[0][0]
    spans, position = [], 0
    for opening in re.finditer(r"`+", text):
        if opening.start() < position:
            continue
        closing = re.compile(r"(?<!`)" + opening.group() + r"(?!`)").search(text, opening.end())
        if closing is None:
            position = opening.end()
            continue
        line = first + text.count("\n", 0, opening.start())
        spans.append((line, text[opening.end():closing.start()].replace("\n", " ")))
        position = closing.end()
    return spans


def yaml_snippets(text: str, first_line: int) -> list[tuple[int, str]]:
    """The shell a CI file runs (`run:` of GitHub Actions, `script:` and the like of GitLab CI), with the line
    each value starts on. Comments and every other value (inputs, names, descriptions) are not shell."""
    found = []

    def visit(node):
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value in SHELL_KEYS:
                    for scalar in value.value if isinstance(value, yaml.SequenceNode) else [value]:
                        if isinstance(scalar, yaml.ScalarNode):
                            # A block scalar (`run: |`) starts on the line after its indicator.
                            line = first_line + scalar.start_mark.line + (scalar.style in ("|", ">"))
                            found.extend(shell_lines(scalar.value, line))
                else:
                    visit(value)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                visit(item)

    for document in yaml.compose_all(text, Loader=yaml.SafeLoader):
        visit(document)
    return found


def shell_lines(text: str, first_line: int) -> list[tuple[int, str]]:
    """Logical shell lines: a trailing backslash joins the next line, comments are cut, here-document bodies
    (a script inside the script) are left out."""
    found, pending, start, heredoc = [], "", 0, None
    for number, line in enumerate(text.split("\n"), first_line):
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        if not pending:
            start = number
        line = strip_comment(line)
        if re.search(r"(?<!\\)(\\\\)*\\$", line):
            pending += line[:-1] + " "
            continue
        logical, pending = pending + line, ""
        if logical.strip():
            found.append((start, logical))
        opened = HEREDOC.search(logical)
        if opened:
            heredoc = opened.group(2)
    return found


def strip_comment(line: str) -> str:
    """The shell's rule: `#` begins a comment at the start of a word, outside quotes."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line


def simple_commands(shell: str) -> list[list[str]]:
    """The simple commands of a shell line, as words: split on `|`, `&&`, `;`, `(`...; redirections (and the
    file they name) left out."""
    lexer = shlex.shlex(PLACEHOLDERS.sub(PLACEHOLDER, shell), posix=True, punctuation_chars=True)
    lexer.whitespace_split, lexer.commenters = True, ""
    try:
        tokens = list(lexer)
    except ValueError:  # an unbalanced quote (a fragment in prose): words as they stand
        tokens = shell.split()
    commands, current, skip = [], [], False
    for token in tokens:
        if skip:
            skip = False
        elif token in SEPARATORS:
            commands.append(current)
            current = []
        elif set(token) <= set("<>&") and set(token) & set("<>"):  # >, >>, 2>&1's >&, <, <<
            if current and current[-1].isdigit():
                current.pop()  # the descriptor of 2>...
            skip = True
        else:
            current.append(token)
    return [command for command in commands + [current] if command]


def command_lines(paths: list[Path], root: Path = ROOT) -> list[CommandLine]:
    """Every `provisioner ...` and documented script command line the files show, and the prose's short forms:
    an inline code span that begins with one of the CLI's commands (`state list --json`, `plan --destroy`, as
    the docs' tables write them) is that command when it shows something to check, an option or a group's
    command (`apply PLANFILE` shows neither, and `export NAME=value` is the shell's export)."""
    commands = set(cli.list_commands(click.Context(cli)))
    found = []
    for path in paths:
        for snippet in snippets(path, root):
            for index, words in enumerate(simple_commands(snippet.text)):
                while words and ASSIGNMENT.match(words[0]):
                    words = words[1:]  # PROVISIONER_PG_DSN=... provisioner ...
                if words[:1] in (["python"], ["python3"]):
                    words = words[1:]
                if not words:
                    continue
                program = next((script for script in SCRIPTS if words[0].endswith(script)), words[0])
                if program == "provisioner" or program in SCRIPTS:
                    found.append(CommandLine(snippet.path, snippet.line, snippet.text, program, tuple(words[1:])))
                elif snippet.inline and index == 0 and program in commands and (
                        any(is_option(word) for word in words)
                        or isinstance(cli.get_command(click.Context(cli), program), click.Group)):
                    found.append(CommandLine(snippet.path, snippet.line, snippet.text, "provisioner", tuple(words)))
    return found


# ---- checking ---------------------------------------------------------------------------------------------

def is_placeholder(word: str) -> bool:
    """A word the docs fill in: NAME, ADDRESS, COMMAND, $VAR, <workspace>, `...`."""
    return word == PLACEHOLDER or "$" in word or "..." in word or bool(re.fullmatch(r"[A-Z][A-Z0-9_]*", word))


def is_option(word: str) -> bool:
    """-l, --target, --lock=false; not `-` (stdin), `--` or a negative number."""
    return word.startswith("-") and len(word) > 1 and word != "--" and not re.fullmatch(r"-[\d.]+", word)


@dataclass(frozen=True)
class OptionSpec:
    takes_value: bool
    check: object = None  # a function that raises ValueError for a value the option refuses


def click_options(command: click.Command) -> dict[str, OptionSpec]:
    """A command's options by every name it answers to (`--lock`, `--no-verify`, `-l`), and -h/--help."""
    options = {name: OptionSpec(False) for name in cli.context_settings["help_option_names"]}
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        check = None
        if not param.is_flag and not isinstance(param.type, (click.File, click.Path)):  # no filesystem here
            def check(value, param=param):
                try:
                    param.type.convert(value, param, None)
                except click.BadParameter as error:
                    raise ValueError(error.message) from None
        for name in (*param.opts, *param.secondary_opts):
            options[name] = OptionSpec(not param.is_flag, check)
    return options


def check_options(words: list[str], options: dict[str, OptionSpec], owner: str,
                  interspersed: bool = True) -> tuple[list[str], list[str]]:
    """Problems with the options among `words`, and the words that are not options nor their values. Without
    `interspersed` (a group: its options come before its command) the first such word ends the options."""
    problems, i = [], 0
    arguments: list[str] = []
    while i < len(words):
        word = words[i].strip("[]")  # a synopsis: [--workspace NAME]
        if word == "--" or not interspersed and not is_option(word):
            return problems, arguments + words[i:]
        i += 1
        if not is_option(word):
            arguments.append(word)
            continue
        name, equals, value = word.partition("=")
        spec = options.get(name)
        if spec is None:
            problems.append(f"{owner} has no option {name}")
        elif equals and not spec.takes_value:
            problems.append(f"{owner}'s {name} takes no value ({word})")
        elif spec.takes_value:
            if not equals:
                value = words[i].strip("[]") if i < len(words) else PLACEHOLDER
                i += 1
            if spec.check and not is_placeholder(value):
                try:
                    spec.check(value)
                except ValueError as error:
                    problems.append(f"{owner}'s {name} refuses {value!r}: {error}")
    return problems, arguments


def check_provisioner(words: tuple[str, ...]) -> list[str]:
    """The command path must exist in the click group, and each option on the command it reaches."""
    command, path, rest, problems = cli, "provisioner", list(words), []
    while isinstance(command, click.Group):
        found, rest = check_options(rest, click_options(command), path, interspersed=False)
        problems += found
        if not rest or is_placeholder(rest[0]):
            return problems  # the group alone (its help), or `provisioner COMMAND --help`: no command to check
        sub = command.get_command(click.Context(command), rest[0])
        if sub is None:
            return problems + [f"{path} has no command {rest[0]!r} (it has: {', '.join(command.list_commands(None))})"]
        command, path, rest = sub, f"{path} {rest[0]}", rest[1:]
    return problems + check_options(rest, click_options(command), path)[0]


_script_options: dict[str, dict[str, OptionSpec]] = {}


def one_of(choices: list[str]):
    def check(value: str) -> None:
        if value not in choices:
            raise ValueError(f"not one of {', '.join(choices)}")
    return check


def script_options(script: str) -> dict[str, OptionSpec]:
    """A script's options as its argparse --help lists them: `--count COUNT`, `--backend {sqlite,postgres}`,
    `-h, --help`."""
    if script not in _script_options:
        help_text = subprocess.run([sys.executable, str(ROOT / script), "--help"], capture_output=True, text=True,
                                   timeout=30, check=True).stdout
        options = {}
        for line in help_text.split("\n"):
            if not re.match(r"  -", line):
                continue
            names = re.split(r"\s{2,}", line.strip())[0]  # the help text follows two spaces
            for name, metavar in re.findall(r"(-{1,2}[\w-]+)(?: (\{[^}]*\}|[A-Z_]+))?", names):
                choices = metavar[1:-1].split(",") if metavar.startswith("{") else None
                options[name] = OptionSpec(bool(metavar), one_of(choices) if choices else None)
        assert "--help" in options, f"could not read the options of {script} --help:\n{help_text}"
        _script_options[script] = options
    return _script_options[script]


def problems_of(lines: list[CommandLine]) -> list[str]:
    """One message per problem: the file, the line, the command as the docs show it, and what is wrong."""
    problems = []
    for line in lines:
        if line.program == "provisioner":
            found = check_provisioner(line.words)
        else:
            found = check_options(list(line.words), script_options(line.program), line.program)[0]
        problems += [f"{line.where()}: {problem}" for problem in found]
    return problems


# ---- the tests --------------------------------------------------------------------------------------------

def test_every_documented_command_line_names_real_commands_and_options():
    lines = command_lines(documents())
    shown_in = {line.path for line in lines}
    # The extraction still finds the docs' commands (a broken reader would check nothing and pass).
    assert {"README.md", "docs/ci.md", "docs/ci/provisioner-steps.sh", "docs/performance.md"} <= shown_in, shown_in
    assert sum(line.program == "provisioner" for line in lines) > 100
    assert {line.program for line in lines} >= set(SCRIPTS)
    problems = problems_of(lines)
    assert not problems, "The documentation shows commands the CLI does not accept:\n" + "\n".join(problems)


def every_command(group: click.Group = cli, path: str = "provisioner"):
    """(`provisioner workspace new`, its click command) for every command the CLI has, groups' subcommands too."""
    for name in group.list_commands(click.Context(group)):
        command = group.get_command(click.Context(group), name)
        if isinstance(command, click.Group):
            yield from every_command(command, f"{path} {name}")
        else:
            yield f"{path} {name}", command


def test_every_option_the_cli_has_is_in_the_documentation():
    """The other direction: README.md and docs/ are the only documentation, so an option `--help` lists and no page
    names (`workspace new --no-select` was one) is one a user cannot learn of but by chance."""
    text = "\n".join(path.read_text(encoding="utf-8") for path in documents() if path.suffix == ".md")
    missing = [f"{path} {name}" for path, command in every_command() for name in click_options(command)
               if name.startswith("--") and name != "--help"
               and not re.search(re.escape(name) + r"(?![\w-])", text)]
    assert not missing, "Options no page of the documentation names:\n" + "\n".join(missing)


def test_a_documented_flag_or_command_that_does_not_exist_is_named_with_its_file_and_line(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8").split("\n")
    good = next(i for i, line in enumerate(readme) if line.startswith("provisioner plan --local --out my.plan"))
    readme[good] = readme[good].replace("--out my.plan", "--out my.plan --no-such-flag", 1)
    (tmp_path / "README.md").write_text("\n".join(readme), encoding="utf-8")
    (tmp_path / "crafted.md").write_text(
        "Prose about `provisioner.yaml`, `provisioner/walk.py` and `uses: OWNER/provisioner@REF` is no command;\n"
        "`export NAME=value` and `apply PLANFILE` show nothing to check, `provisioner COMMAND --help` no command.\n"
        "\n"
        "```bash\n"
        "# provisioner plan --commented-out\n"
        "provisioner plan --local \\\n"
        "  --out <workspace>/my.plan --format=markdown | tee plan.md   # good\n"
        "cd manifests && provisioner state lst --json\n"
        "PROVISIONER_PG_DSN=... provisioner plan --lock=false --backend mysql\n"
        "```\n"
        "\n"
        "Or inline, over a line break: `provisioner show --json\n"
        "--bogus PLANFILE`, `python scripts/benchmark.py --count 10 --fleet tiny`; a short form: `plan --destory`.\n",
        encoding="utf-8")
    (tmp_path / "ci.yml").write_text(
        "# provisioner plan --in-a-comment\n"
        "steps:\n"
        "  - name: provisioner plan --not-shell\n"
        "    run: |\n"
        "      echo start\n"
        "      provisioner apply --auto-approve --yes ${{ inputs.paths }}\n", encoding="utf-8")

    lines = command_lines([tmp_path / "README.md", tmp_path / "crafted.md", tmp_path / "ci.yml"], tmp_path)
    problems = problems_of(lines)

    assert problems == [
        (f"README.md:{good + 1}: `provisioner plan --local --out my.plan --no-such-flag`: "
         "provisioner plan has no option --no-such-flag"),
        ("crafted.md:8: `cd manifests && provisioner state lst --json`: provisioner state has no command 'lst' "
         "(it has: list, mv, pull, push, rm, show)"),
        ("crafted.md:9: `PROVISIONER_PG_DSN=... provisioner plan --lock=false --backend mysql`: provisioner plan's "
         "--backend refuses 'mysql': 'mysql' is not one of 'sqlite', 'postgres'."),
        "crafted.md:12: `provisioner show --json --bogus PLANFILE`: provisioner show has no option --bogus",
        ("crafted.md:13: `python scripts/benchmark.py --count 10 --fleet tiny`: scripts/benchmark.py's --fleet "
         "refuses 'tiny': not one of full, small"),
        "crafted.md:13: `plan --destory`: provisioner plan has no option --destory",
        "ci.yml:6: `provisioner apply --auto-approve --yes ${{ inputs.paths }}`: provisioner apply has no option --yes",
    ], "\n".join(problems)
    # What was read as a command line, and what was not (prose, comments, YAML that is not shell).
    crafted = [(line.line, line.program, line.words) for line in lines if line.path != "README.md"]
    assert crafted == [
        (2, "provisioner", ("COMMAND", "--help")),
        (6, "provisioner", ("plan", "--local", "--out", "PLACEHOLDER/my.plan", "--format=markdown")),
        (8, "provisioner", ("state", "lst", "--json")),
        (9, "provisioner", ("plan", "--lock=false", "--backend", "mysql")),
        (12, "provisioner", ("show", "--json", "--bogus", "PLANFILE")),
        (13, "scripts/benchmark.py", ("--count", "10", "--fleet", "tiny")),
        (13, "provisioner", ("plan", "--destory")),
        (6, "provisioner", ("apply", "--auto-approve", "--yes", "PLACEHOLDER")),
    ]
