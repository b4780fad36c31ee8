"""Which commands from a guide only read: the table ``gert import`` classifies by.

A command becomes a ``cli`` step only when this table says it reads and nothing about it
needs a shell. Everything else is shown to the engineer in a ``manual`` step. The table is
explicit on purpose: a program that is not in it is treated as one that changes state,
whatever its name suggests. ``docs/import.md`` prints the same table (a test compares them).

``classify(argv)`` gives a ``Verdict``: ``read`` (runs and ends, changes nothing),
``write`` (changes state, or runs other code), ``unknown`` (not in the table: treated as
``write``), ``follows`` (reads, but runs until stopped: ``tail -f``, ``kubectl get -w``,
``ping`` without a count) or ``interactive`` (waits for a person: ``psql`` with no query).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """What running a command does: ``kind`` and why, in words an engineer reads."""

    kind: str  # read | write | unknown | follows | interactive
    reason: str

    @property
    def reads(self) -> bool:
        return self.kind == "read"


@dataclass(frozen=True)
class Tool:
    """A program with subcommands: the subcommands (one or two words) that only read, and
    those the table names as changing state (any other is treated as changing state)."""

    reads: frozenset[str]
    writes: frozenset[str] = frozenset()
    # Options that take a value (so the word after them is not the subcommand).
    value_options: frozenset[str] = frozenset()
    # Options that make a reading subcommand run until stopped.
    follows: frozenset[str] = frozenset()


def _set(words: str) -> frozenset[str]:
    return frozenset(w.replace("+", " ") for w in words.split())


_KUBE_VALUE_OPTIONS = _set(
    "-n --namespace --context --cluster --kubeconfig --user -s --server --as --as-group "
    "--token --request-timeout --certificate-authority --client-certificate --client-key "
    "--cache-dir --tls-server-name -v --v -l --selector -o --output -c --container "
    "--field-selector --since --tail --template"
)
_KUBE_READS = (
    "get describe logs top explain api-resources api-versions version cluster-info events "
    "diff rollout+status rollout+history auth+can-i auth+whoami config+view "
    "config+get-contexts config+current-context config+get-clusters config+get-users"
)
_KUBE_WRITES = (
    "edit patch apply create delete replace scale autoscale label annotate taint cordon "
    "uncordon drain set expose run exec attach cp debug port-forward proxy adm wait "
    "rollout+restart rollout+undo rollout+pause rollout+resume certificate config+use-context "
    "config+set config+set-context config+set-cluster config+set-credentials config+unset "
    "config+delete-context plugin kustomize"
)

# Programs with subcommands: only the listed subcommands run as cli steps.
TOOLS: dict[str, Tool] = {
    "kubectl": Tool(
        _set(_KUBE_READS),
        _set(_KUBE_WRITES),
        _KUBE_VALUE_OPTIONS,
        _set("-w --watch --watch-only -f --follow"),
    ),
    "oc": Tool(
        _set(_KUBE_READS + " status whoami projects adm+top"),
        _set(
            _KUBE_WRITES
            + " rsh rsync new-app new-project start-build login logout project process "
            "import-image tag image extract observe"
        ),
        _KUBE_VALUE_OPTIONS,
        _set("-w --watch --watch-only -f --follow"),
    ),
    "helm": Tool(
        _set(
            "list ls status get history show version search template lint env "
            "repo+list plugin+list dependency+list"
        ),
        _set("install upgrade uninstall delete rollback repo+add repo+update plugin+install"),
        _set("-n --namespace --kube-context --kubeconfig -o --output"),
    ),
    "docker": Tool(
        _set("ps logs inspect images stats version info top port history diff"),
        _set(
            "run exec start stop restart kill rm rmi pull push build create cp commit "
            "system network volume update pause unpause rename prune compose"
        ),
        _set("-H --host --context --config"),
        _set("-f --follow"),
    ),
    "podman": Tool(
        _set("ps logs inspect images stats version info top port history diff"),
        _set(
            "run exec start stop restart kill rm rmi pull push build create cp commit "
            "system network volume update pause unpause rename prune"
        ),
        _set("--url --connection"),
        _set("-f --follow"),
    ),
    "crictl": Tool(
        _set("ps pods logs inspect inspectp inspecti images stats statsp info version imagefsinfo"),
        _set("exec attach rm rmp rmi stop stopp start run runp pull create update port-forward"),
        _set("-r --runtime-endpoint -i --image-endpoint --timeout"),
        _set("-f --follow"),
    ),
    "systemctl": Tool(
        _set(
            "status show is-active is-enabled is-failed list-units list-unit-files list-timers "
            "list-sockets list-dependencies cat"
        ),
        _set(
            "start stop restart reload try-restart reload-or-restart enable disable mask unmask "
            "daemon-reload kill edit set-property reset-failed isolate reboot poweroff"
        ),
        _set("-H --host -M --machine -p --property -t --type --state"),
    ),
    "git": Tool(
        _set(
            "status log diff show blame describe rev-parse ls-files ls-tree grep shortlog "
            "reflog cat-file"
        ),
        _set(
            "push pull fetch commit merge rebase reset checkout switch restore clean rm mv "
            "stash tag branch cherry-pick revert am apply gc clone init config remote"
        ),
        _set("-C -c --git-dir --work-tree"),
    ),
    "etcdctl": Tool(
        _set(
            "get version endpoint+status endpoint+health member+list alarm+list user+list "
            "role+list lease+list"
        ),
        _set(
            "put del defrag compact compaction alarm+disarm snapshot member+add member+remove "
            "member+update move-leader lease+grant lease+revoke txn lock elect watch"
        ),
        _set(
            "-w --write-out --endpoints --cacert --cert --key --user --password --dial-timeout "
            "--command-timeout"
        ),
    ),
    "ceph": Tool(
        _set(
            "status health health+detail df versions osd+tree osd+df osd+stat osd+dump "
            "osd+ls osd+pool+ls osd+pool+get osd+perf osd+blocked-by pg+stat pg+dump pg+ls mon+stat mon+dump "
            "mgr+stat mds+stat fs+status fs+ls crash+ls crash+info quorum_status"
        ),
        _set(
            "osd+out osd+in osd+down osd+rm osd+purge osd+set osd+unset osd+crush "
            "osd+reweight pg+repair config tell crash+archive crash+archive-all auth orch"
        ),
        _set("-c --conf --cluster --id -n --name -k --keyring -f --format"),
    ),
    "ip": Tool(
        _set("addr address a link l route r neigh n rule ru"),
        _set("addr+add addr+del link+set link+add link+delete route+add route+del route+replace"),
        frozenset(),
    ),
    "timedatectl": Tool(
        _set("status show timesync-status show-timesync"), _set("set-time set-ntp set-timezone")
    ),
    "chronyc": Tool(_set("tracking sources sourcestats activity ntpdata"), _set("makestep burst")),
    "hostnamectl": Tool(_set("status"), _set("set-hostname hostname")),
    "openssl": Tool(
        _set("x509 s_client verify version crl ciphers asn1parse"),
        _set("req genrsa genpkey rsa ca"),
    ),
    "promtool": Tool(
        _set("check+config check+rules query+instant query+range query+series query+labels"),
        _set("tsdb push"),
    ),
    "amtool": Tool(
        _set("alert alert+query silence+query config+show config+routes check-config"),
        _set("silence+add silence+expire silence+import"),
        _set("--alertmanager.url -o --output"),
    ),
    "virtctl": Tool(
        _set("version guestosinfo userlist fslist"),
        _set(
            "start stop restart migrate pause unpause console vnc ssh scp expose addvolume removevolume image-upload"
        ),
    ),
    "aws": Tool(
        frozenset(), frozenset(), _set("--region --profile --output --query --endpoint-url")
    ),
    "gcloud": Tool(frozenset(), frozenset(), _set("--project --format --zone --region")),
    "az": Tool(
        frozenset(), frozenset(), _set("-g --resource-group --subscription -o --output --query")
    ),
}

# Programs that only read, whatever their arguments (bar the options listed below).
READERS = frozenset(
    [
        "cat",
        "tac",
        "head",
        "tail",
        "less",
        "more",
        "grep",
        "egrep",
        "fgrep",
        "zgrep",
        "zcat",
        "rg",
        "wc",
        "sort",
        "uniq",
        "cut",
        "tr",
        "jq",
        "yq",
        "column",
        "nl",
        "od",
        "hexdump",
        "strings",
        "base64",
        "md5sum",
        "sha1sum",
        "sha256sum",
        "diff",
        "cmp",
        "comm",
        "ls",
        "stat",
        "file",
        "find",
        "locate",
        "realpath",
        "readlink",
        "basename",
        "dirname",
        "df",
        "du",
        "free",
        "top",
        "htop",
        "uptime",
        "vmstat",
        "iostat",
        "mpstat",
        "pidstat",
        "sar",
        "ps",
        "pgrep",
        "pidof",
        "lsof",
        "ss",
        "netstat",
        "dig",
        "nslookup",
        "host",
        "ping",
        "ping6",
        "traceroute",
        "tracepath",
        "mtr",
        "whoami",
        "id",
        "groups",
        "hostname",
        "uname",
        "date",
        "printenv",
        "echo",
        "printf",
        "true",
        "sleep",
        "nproc",
        "lscpu",
        "lsblk",
        "lsmem",
        "lspci",
        "lsusb",
        "lsmod",
        "blkid",
        "findmnt",
        "mount",
        "getent",
        "dmesg",
        "journalctl",
        "sysctl",
        "ethtool",
        "getenforce",
        "sestatus",
        "nc",
        "curl",
        "wget",
        "awk",
        "sed",
        "psql",
        "mysql",
        "sqlite3",
        "redis-cli",
        "numastat",
        "iotop",
        "nvidia-smi",
        "which",
        "type",
        "whereis",
    ]
)

# Options that make a reading program write (its output to a file, its input in place).
WRITING_OPTIONS: dict[str, frozenset[str]] = {
    "sed": frozenset({"-i", "--in-place"}),
    "yq": frozenset({"-i", "--inplace"}),
    "sort": frozenset({"-o", "--output"}),
    "find": frozenset(
        {"-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprint0", "-fprintf", "-fls"}
    ),
    "journalctl": frozenset(
        {
            "--vacuum-size",
            "--vacuum-time",
            "--vacuum-files",
            "--rotate",
            "--flush",
            "--sync",
            "--relinquish-var",
            "--smart-relinquish-var",
            "--setup-keys",
            "--update-catalog",
        }
    ),
    "dmesg": frozenset(
        {
            "-c",
            "--read-clear",
            "-C",
            "--clear",
            "-D",
            "--console-off",
            "-E",
            "--console-on",
            "-n",
            "--console-level",
        }
    ),
    "sysctl": frozenset({"-w", "--write", "-p", "--load", "--system"}),
    "date": frozenset({"-s", "--set"}),
    "curl": frozenset(
        {
            "-d",
            "--data",
            "--data-raw",
            "--data-binary",
            "--data-urlencode",
            "--json",
            "-F",
            "--form",
            "-T",
            "--upload-file",
            "-o",
            "--output",
            "-O",
            "--remote-name",
            "--remote-name-all",
            "-K",
            "--config",
        }
    ),
    "wget": frozenset({"--post-data", "--post-file", "--method", "--body-data", "--body-file"}),
    "ethtool": frozenset(
        {
            "-s",
            "-K",
            "--features",
            "-G",
            "--set-ring",
            "-A",
            "--pause",
            "-C",
            "--coalesce",
            "-E",
            "-f",
            "--flash",
            "-r",
            "--negotiate",
            "-L",
            "--set-channels",
        }
    ),
    "redis-cli": frozenset(),
}
# Options that make a reading program run until it is stopped.
FOLLOW_OPTIONS: dict[str, frozenset[str]] = {
    "tail": frozenset({"-f", "-F", "--follow"}),
    "journalctl": frozenset({"-f", "--follow"}),
    "dmesg": frozenset({"-w", "--follow", "-W", "--follow-new"}),
    "less": frozenset({"+F"}),
}
# Programs that run another command, code, or a session: never run by an import.
RUNS_OTHERS = frozenset(
    [
        "sudo",
        "doas",
        "su",
        "runuser",
        "env",
        "nohup",
        "xargs",
        "timeout",
        "nice",
        "ionice",
        "stdbuf",
        "setsid",
        "busybox",
        "watch",
        "time",
        "chroot",
        "nsenter",
        "unshare",
        "ssh",
        "scp",
        "sftp",
        "rsh",
        "telnet",
        "script",
        "flock",
        "parallel",
        "exec",
        "eval",
        "source",
        ".",
        "sh",
        "bash",
        "dash",
        "zsh",
        "ksh",
        "fish",
        "csh",
        "tcsh",
        "python",
        "python2",
        "python3",
        "perl",
        "ruby",
        "node",
        "php",
        "lua",
        "pwsh",
        "powershell",
    ]
)
# Programs that change a system whatever their arguments.
WRITERS = frozenset(
    [
        "dd",
        "mkfs",
        "fdisk",
        "sfdisk",
        "parted",
        "wipefs",
        "mkswap",
        "swapon",
        "swapoff",
        "umount",
        "losetup",
        "iptables",
        "ip6tables",
        "nft",
        "ufw",
        "firewall-cmd",
        "route",
        "crontab",
        "at",
        "tee",
        "cp",
        "ln",
        "install",
        "truncate",
        "shred",
        "rsync",
        "mv",
        "rm",
        "rmdir",
        "unlink",
        "chmod",
        "chown",
        "chgrp",
        "chattr",
        "setfacl",
        "touch",
        "mkdir",
        "useradd",
        "userdel",
        "usermod",
        "groupadd",
        "groupdel",
        "passwd",
        "chpasswd",
        "visudo",
        "modprobe",
        "rmmod",
        "insmod",
        "kill",
        "pkill",
        "killall",
        "reboot",
        "shutdown",
        "halt",
        "poweroff",
        "service",
        "update-rc.d",
        "apt",
        "apt-get",
        "dpkg",
        "yum",
        "dnf",
        "rpm",
        "pip",
        "pip3",
        "npm",
        "terraform",
        "ansible",
        "ansible-playbook",
        "make",
        "cargo",
        "go",
        "gcc",
    ]
)
# Words that change the shell itself: what follows them runs in another context.
SHELL_CONTEXT = frozenset(
    [
        "cd",
        "pushd",
        "popd",
        "export",
        "unset",
        "set",
        "alias",
        "source",
        ".",
        "exit",
        "logout",
        "exec",
        "ulimit",
        "umask",
    ]
)

_SQL_READ_DIALECT = {"psql": "postgres", "mysql": "mysql", "sqlite3": "sqlite"}
_REDIS_READS = _set(
    "ping info get mget exists ttl pttl type scan sscan hscan zscan llen lrange lindex hget "
    "hgetall hkeys hvals hlen hexists smembers scard sismember zrange zrangebyscore zcard "
    "zscore strlen dbsize time lastsave role xinfo xlen xrange slowlog+get slowlog+len "
    "latency+latest latency+doctor latency+history memory+usage memory+stats memory+doctor "
    "client+list client+info config+get cluster+info cluster+nodes pubsub+channels "
    "object+encoding"
)
_REDIS_READ_OPTIONS = frozenset({"--bigkeys", "--memkeys", "--hotkeys", "--scan"})
_REDIS_FOLLOW_OPTIONS = frozenset({"--stat", "--latency", "--latency-history", "--monitor", "-r"})
_REDIS_VALUE_OPTIONS = frozenset(
    {
        "-h",
        "-p",
        "-s",
        "-a",
        "--user",
        "--pass",
        "-u",
        "-n",
        "-d",
        "-i",
        "--tls-cert",
        "--cacert",
        "--pattern",
        "-e",
    }
)


def program_of(argv: list[str]) -> str:
    """The program's name: ``/usr/bin/kubectl`` is ``kubectl``."""
    return argv[0].rsplit("/", 1)[-1] if argv else ""


def subcommand(args: list[str], value_options: frozenset[str] = frozenset()) -> list[str]:
    """The words after the options: ``-n prod get pods`` is ``[get, pods]`` when ``-n``
    takes a value. Options after the subcommand are skipped the same way."""
    words: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a.startswith("-") and len(a) > 1:
            skip = "=" not in a and a in value_options
            continue
        words.append(a)
    return words


def _has(args: list[str], options: frozenset[str]) -> str | None:
    """The first of *options* among *args* (``--output=x`` and ``-ofile`` count)."""
    for a in args:
        if a == "--":
            return None
        for o in options:
            if (
                a == o
                or a.startswith(o + "=")
                or (len(o) == 2 and o[0] == "-" and a.startswith(o) and not a.startswith("--"))
            ):
                return o
    return None


def classify(argv: list[str]) -> Verdict:
    """What the command *argv* does, by the table."""
    if not argv:
        return Verdict("unknown", "no command")
    program = program_of(argv)
    base = program.split(".", 1)[0]  # mkfs.ext4 is mkfs
    args = argv[1:]
    if program in SHELL_CONTEXT:
        return Verdict("write", f"{program} changes the shell the next commands run in")
    if program in RUNS_OTHERS or base in RUNS_OTHERS:
        if program == "env" and not args:
            return Verdict("read", "env prints the environment")
        return Verdict("write", f"{program} runs other code")
    if program in WRITERS or base in WRITERS:
        return Verdict("write", f"{program} changes state")
    if program in TOOLS:
        return _tool(program, args)
    if program not in READERS:
        return Verdict(
            "unknown",
            f"{program} is not in the table of read-only commands (treated as changing state)",
        )
    writes = _has(args, WRITING_OPTIONS.get(program, frozenset()))
    if writes and not (program == "curl" and writes in ("-o", "--output") and "/dev/null" in args):
        return Verdict("write", f"{program} {writes} writes")
    follows = _has(args, FOLLOW_OPTIONS.get(program, frozenset()))
    if follows:
        return Verdict("follows", f"{program} {follows} runs until stopped")
    special = _SPECIAL.get(program)
    if special is not None:
        return special(program, args)
    return Verdict("read", f"{program} only reads")


def _tool(program: str, args: list[str]) -> Verdict:
    tool = TOOLS[program]
    words = subcommand(args, tool.value_options)
    if program == "aws":
        verb = words[1] if len(words) > 1 else ""
        if re.match(r"(describe|list|get)-", verb) or words[:2] in (
            ["s3", "ls"],
            ["sts", "get-caller-identity"],
        ):
            return Verdict("read", f"aws {' '.join(words[:2])} only reads")
        return Verdict(
            "write", f"aws {' '.join(words[:2]) or '(no command)'} is not a describe/list/get call"
        )
    if program in ("gcloud", "az"):
        verb = words[-1] if words else ""
        reads = {"gcloud": ("list", "describe"), "az": ("list", "show")}[program]
        if verb in reads:
            return Verdict("read", f"{program} … {verb} only reads")
        return Verdict(
            "write", f"{program} {' '.join(words) or '(no command)'} is not a {'/'.join(reads)}"
        )
    if program == "ceph" and not words and "-s" in args:
        words = ["status"]
    one = words[0].lower() if words else ""
    two = " ".join(words[:2]).lower()
    if not one and program == "ip":
        return Verdict("unknown", "ip with no object")
    three = " ".join(words[:3]).lower()
    if three in tool.reads:
        return Verdict("read", f"{program} {three} only reads")
    if two in tool.writes:
        return Verdict("write", f"{program} {two} changes state")
    if one in tool.writes and two not in tool.reads:
        return Verdict("write", f"{program} {one} changes state")
    if program == "ip":
        # ip OBJECT [show|list|get]: a read; any other verb changes the system.
        verb = words[1].lower() if len(words) > 1 else "show"
        if one in tool.reads and verb in ("show", "list", "lst", "get", "sh", "ls"):
            return Verdict("read", f"ip {one} {verb} only reads")
        return Verdict("write", f"ip {one} {verb} changes state")
    if two in tool.reads or (one in tool.reads and " " not in one):
        verb = two if two in tool.reads else one
        follows = _has(args, tool.follows)
        if follows:
            return Verdict("follows", f"{program} {verb} {follows} runs until stopped")
        if program in ("docker", "podman") and one == "stats" and "--no-stream" not in args:
            return Verdict("follows", f"{program} stats runs until stopped (no --no-stream)")
        if program in ("crictl",) and one in ("stats", "statsp") and "--watch" in args:
            return Verdict("follows", "crictl stats --watch runs until stopped")
        if program == "oc" and one == "project" and len(words) > 1:
            return Verdict("write", "oc project NAME switches the project")
        return Verdict("read", f"{program} {verb} only reads")
    return Verdict(
        "unknown",
        f"{program} {one or '(no subcommand)'} is not a read in the table (treated as changing state)",
    )


def _sql(program: str, args: list[str]) -> Verdict:
    from gert.validate.sql import refusal

    queries: list[str] = []
    if program == "psql":
        for i, a in enumerate(args):
            if a in ("-c", "--command") and i + 1 < len(args):
                queries.append(args[i + 1])
            elif a.startswith("--command="):
                queries.append(a.split("=", 1)[1])
            elif a in ("-f", "--file") or a.startswith("--file="):
                return Verdict("write", "psql -f runs a file of SQL")
    elif program == "mysql":
        for i, a in enumerate(args):
            if a in ("-e", "--execute") and i + 1 < len(args):
                queries.append(args[i + 1])
            elif a.startswith("--execute="):
                queries.append(a.split("=", 1)[1])
    else:  # sqlite3 [options] FILE [SQL...]
        positional = [a for a in args if not a.startswith("-")]
        queries = positional[1:]
    if not queries:
        return Verdict("interactive", f"{program} without a query waits for one")
    for q in queries:
        why = refusal(q, _SQL_READ_DIALECT[program])
        if why is not None:
            reason = why.split("transaction", 1)[-1].lstrip(": ") or "not a read"
            return Verdict("write", f"{program}: the SQL is not a plain read ({reason})")
    return Verdict("read", f"{program} runs a SELECT")


def _redis(program: str, args: list[str]) -> Verdict:
    if _has(args, _REDIS_FOLLOW_OPTIONS):
        return Verdict(
            "follows", "redis-cli " + str(_has(args, _REDIS_FOLLOW_OPTIONS)) + " runs until stopped"
        )
    if _has(args, _REDIS_READ_OPTIONS):
        return Verdict("read", "redis-cli " + str(_has(args, _REDIS_READ_OPTIONS)) + " only reads")
    words = subcommand(args, _REDIS_VALUE_OPTIONS)
    if not words:
        return Verdict("interactive", "redis-cli without a command waits for input")
    one, two = words[0].lower(), " ".join(words[:2]).lower()
    if two in _REDIS_READS or one in _REDIS_READS:
        return Verdict("read", f"redis-cli {two if two in _REDIS_READS else one} only reads")
    return Verdict("write", f"redis-cli {one.upper()} is not a read in the table")


def _awk(program: str, args: list[str]) -> Verdict:
    code = next((a for a in args if not a.startswith("-")), "")
    if (
        re.search(r"\bsystem\s*\(|\bgetline\b|[|>]\s*\"|print[^;]*>|\bclose\s*\(", code)
        or "-f" in args
    ):
        return Verdict("write", "the awk program runs commands or writes files")
    return Verdict("read", "awk only reads")


def _sed(program: str, args: list[str]) -> Verdict:
    if any(a.startswith("-i") for a in args):
        return Verdict("write", "sed -i writes")
    script = next((a for a in args if not a.startswith("-")), "")
    if re.search(r"(^|[;}\s])[0-9,$/]*[we]\b|/[gpiI0-9]*w\s", script):
        return Verdict("write", "the sed script writes a file or runs a command")
    return Verdict("read", "sed only reads")


def _ping(program: str, args: list[str]) -> Verdict:
    if _has(args, frozenset({"-c", "-w", "--count", "--deadline"})):
        return Verdict("read", f"{program} with a count only reads")
    return Verdict("follows", f"{program} without -c runs until stopped")


def _top(program: str, args: list[str]) -> Verdict:
    if program == "top" and _has(args, frozenset({"-b"})) and _has(args, frozenset({"-n"})):
        return Verdict("read", "top -b -n only reads")
    return Verdict("follows", f"{program} runs until stopped (top -b -n N ends)")


def _interval(program: str, args: list[str]) -> Verdict:
    numbers = [a for a in args if a.isdigit()]
    if len(numbers) == 1:
        return Verdict("follows", f"{program} with an interval and no count runs until stopped")
    return Verdict("read", f"{program} only reads")


def _mtr(program: str, args: list[str]) -> Verdict:
    if _has(args, frozenset({"-r", "--report", "-w", "--report-wide", "-j", "--json", "-c"})):
        return Verdict("read", "mtr --report only reads")
    return Verdict("follows", "mtr without --report runs until stopped")


def _wget(program: str, args: list[str]) -> Verdict:
    if (
        _has(args, frozenset({"--spider"}))
        or any(a in ("-O-", "-qO-", "--output-document=-") for a in args)
        or any(a == "-O" and b == "-" for a, b in itertools.pairwise(args))
    ):
        return Verdict("read", "wget to standard output only reads")
    return Verdict("write", "wget saves a file")


def _curl(program: str, args: list[str]) -> Verdict:
    for i, a in enumerate(args):
        method = None
        if a in ("-X", "--request") and i + 1 < len(args):
            method = args[i + 1]
        elif a.startswith("--request="):
            method = a.split("=", 1)[1]
        elif a.startswith("-X") and len(a) > 2:
            method = a[2:]
        if method is not None and method.upper() not in ("GET", "HEAD", "OPTIONS"):
            return Verdict("write", f"curl -X {method} writes")
    return Verdict("read", "curl without a body or write method only reads")


def _uniq(program: str, args: list[str]) -> Verdict:
    if len([a for a in args if not a.startswith("-")]) > 1:
        return Verdict("write", "uniq INPUT OUTPUT writes OUTPUT")
    return Verdict("read", "uniq only reads")


def _hostname(program: str, args: list[str]) -> Verdict:
    if [a for a in args if not a.startswith("-")]:
        return Verdict("write", "hostname NAME sets the host name")
    return Verdict("read", "hostname only reads")


def _mount(program: str, args: list[str]) -> Verdict:
    if args and not all(a in ("-l", "--show-labels") or a.startswith("-t") for a in args):
        return Verdict("write", "mount with a device mounts it")
    return Verdict("read", "mount with no device lists mounts")


def _sysctl(program: str, args: list[str]) -> Verdict:
    if any("=" in a and not a.startswith("-") for a in args):
        return Verdict("write", "sysctl KEY=VALUE sets a value")
    return Verdict("read", "sysctl only reads")


def _nc(program: str, args: list[str]) -> Verdict:
    if any(a.startswith("-") and "z" in a[1:] and not a.startswith("--") for a in args):
        return Verdict("read", "nc -z only checks a port")
    return Verdict("unknown", "nc without -z sends data (treated as changing state)")


_SPECIAL = {
    "psql": _sql,
    "mysql": _sql,
    "sqlite3": _sql,
    "redis-cli": _redis,
    "awk": _awk,
    "sed": _sed,
    "ping": _ping,
    "ping6": _ping,
    "top": _top,
    "htop": _top,
    "iotop": _top,
    "vmstat": _interval,
    "iostat": _interval,
    "mpstat": _interval,
    "pidstat": _interval,
    "sar": _interval,
    "mtr": _mtr,
    "wget": _wget,
    "curl": _curl,
    "uniq": _uniq,
    "hostname": _hostname,
    "mount": _mount,
    "sysctl": _sysctl,
    "nc": _nc,
}


def known(program: str) -> bool:
    """True when the table knows *program* (as a reader, a tool, a writer or a wrapper)."""
    name = program.rsplit("/", 1)[-1]
    base = name.split(".", 1)[0]
    return any(
        n in table
        for n in (name, base)
        for table in (READERS, TOOLS, WRITERS, RUNS_OTHERS, SHELL_CONTEXT)
    )


def table_rows() -> list[tuple[str, str, str]]:
    """The table as rows (program, reads, changes state), as docs/import.md prints it."""
    rows = []
    for name in sorted(TOOLS):
        tool = TOOLS[name]
        rows.append((name, ", ".join(sorted(tool.reads)), ", ".join(sorted(tool.writes))))
    return rows


__all__ = [
    "FOLLOW_OPTIONS",
    "READERS",
    "RUNS_OTHERS",
    "TOOLS",
    "WRITERS",
    "WRITING_OPTIONS",
    "Verdict",
    "classify",
    "known",
    "program_of",
    "subcommand",
    "table_rows",
]
