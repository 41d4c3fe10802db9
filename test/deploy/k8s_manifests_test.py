#!/usr/bin/env python3
"""Checks the Kubernetes manifests of deploy/k8s: the fields that make the jobs run.

    python3 k8s_manifests_test.py [DIR]     (DIR: deploy/k8s of this checkout by default)

The quantize job is an Indexed Job whose completions and parallelism equal the N of its
`--parts N`, with `--part env` and restartPolicy Never; every mount names a volume of its pod,
and every volume is the claim of pvc.yaml; every file the commands read or write lies under
a mount (writes under a writable one); the merge job reads exactly the N files
OUT.part-K-of-N the quantize job writes (the same places on the same claim) and writes OUT.
A self-check then runs the same checks on mutated copies and requires each to be caught.

Exit 0 pass, 1 fail, 77 skipped (no PyYAML: Debian package python3-yaml).
"""
import copy
import fnmatch
import posixpath
import shlex
import sys
from pathlib import Path

try:
    import yaml
except ImportError:
    print("skipped: PyYAML is not installed (Debian package python3-yaml)")
    sys.exit(77)

PVC, QUANTIZE, MERGE, COPY = "pvc.yaml", "quantize-job.yaml", "merge-job.yaml", "copy-pod.yaml"

# sutra's global flags (before the command) and, per command, the options without a value
# and those that take every value up to the next option. Any other option takes one value.
GLOBAL_FLAGS = {"-v", "-vv", "-q", "--no-mmap"}
GLOBAL_WITH_VALUE = {"--threads", "--isa"}
NO_VALUE = {"--force", "--dry-run", "--keep-unsupported", "--json"}
MULTI_VALUE = {"--calib-text"}
# quantize options that name files it reads.
READ_OPTIONS = ("--calib-text", "--calib", "--calib-ids", "--config")


def load(directory):
    """The one document of each manifest, by file name (COPY only if present)."""
    docs = {}
    for name in (PVC, QUANTIZE, MERGE, COPY):
        path = Path(directory) / name
        if name == COPY and not path.exists():
            continue
        with open(path, encoding="utf-8") as f:
            parts = [d for d in yaml.safe_load_all(f) if d is not None]
        if len(parts) != 1:
            raise ValueError(f"{path}: {len(parts)} YAML documents, expected 1")
        docs[name] = parts[0]
    return docs


def get(obj, *keys):
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj


def sutra_argv(container):
    """The container's sutra command line without the program name, or None. An `sh -c`
    script must be one command (optionally after `exec`); its globs are kept as written."""
    argv = [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]
    if len(argv) >= 3 and posixpath.basename(argv[0]) in ("sh", "bash") and argv[1] == "-c":
        argv = shlex.split(argv[2])
        if any(t in (";", "&&", "||", "|", "&") for t in argv):
            return None
        if argv[:1] == ["exec"]:
            argv = argv[1:]
    if not argv or posixpath.basename(argv[0]) != "sutra":
        return None
    out = []
    for a in argv[1:]:
        if a.startswith("--") and "=" in a:
            out.extend(a.split("=", 1))
        else:
            out.append(a)
    return out


def parse_sutra(argv):
    """(command, positionals, {option: [values]}) of a sutra command line."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in GLOBAL_WITH_VALUE else 1
    if i >= len(argv):
        return None, [], {}
    command, rest = argv[i], argv[i + 1:]
    positionals, options = [], {}
    j = 0
    while j < len(rest):
        a = rest[j]
        if not a.startswith("-") or a == "-":
            positionals.append(a)
            j += 1
        elif a in NO_VALUE:
            options.setdefault(a, []).append(None)
            j += 1
        elif a in MULTI_VALUE:
            j += 1
            while j < len(rest) and not rest[j].startswith("-"):
                options.setdefault(a, []).append(rest[j])
                j += 1
        else:
            options.setdefault(a, []).append(rest[j + 1] if j + 1 < len(rest) else None)
            j += 2
    if "--output" in options:
        options.setdefault("-o", []).extend(options.pop("--output"))
    return command, positionals, options


def one(options, name):
    values = options.get(name) or []
    return values[0] if len(values) == 1 else None


class Pod:
    """A pod spec's sutra container and where its paths fall on the volumes."""

    def __init__(self, label, spec, claim, errors):
        self.label, self.spec, self.errors = label, spec or {}, errors
        self.volumes = {v.get("name"): v for v in self.spec.get("volumes") or []}
        containers = self.spec.get("containers") or []
        for c in containers + (self.spec.get("initContainers") or []):
            for m in c.get("volumeMounts") or []:
                name = m.get("name")
                if name not in self.volumes:
                    errors.append(f"{label}: container {c.get('name')}: volumeMount {name!r} "
                                  f"names no volume of the pod (volumes: {sorted(self.volumes)})")
                if not str(m.get("mountPath", "")).startswith("/"):
                    errors.append(f"{label}: mountPath {m.get('mountPath')!r} is not absolute")
        for name, v in self.volumes.items():
            got = get(v, "persistentVolumeClaim", "claimName")
            if got != claim:
                errors.append(f"{label}: volume {name!r} has claim {got!r}, not the claim "
                              f"{claim!r} of {PVC}")
        sutra = [c for c in containers if sutra_argv(c) is not None]
        self.container = sutra[0] if len(sutra) == 1 else None
        self.argv = sutra_argv(self.container) if self.container else None

    def place(self, path, what, write=False):
        """(claim, path inside the claim) of a container path, or None after an error."""
        if not path or not path.startswith("/"):
            self.errors.append(f"{self.label}: {what} {path!r} is not an absolute path")
            return None
        path = posixpath.normpath(path)
        best = None
        for m in self.container.get("volumeMounts") or []:
            mp = posixpath.normpath(str(m.get("mountPath", "")))
            if (path == mp or path.startswith(mp.rstrip("/") + "/")) and (
                    best is None or len(mp) > len(best[0])):
                best = (mp, m)
        if best is None:
            mounts = [m.get("mountPath") for m in self.container.get("volumeMounts") or []]
            self.errors.append(f"{self.label}: {what} {path} is not under any mountPath "
                               f"of the container ({mounts})")
            return None
        mp, m = best
        if write and m.get("readOnly"):
            self.errors.append(f"{self.label}: {what} {path} is written, but the mount at {mp} "
                               "is read-only")
        claim = get(self.volumes.get(m.get("name")), "persistentVolumeClaim", "claimName")
        inside = posixpath.normpath(posixpath.join(str(m.get("subPath") or ""),
                                                   posixpath.relpath(path, mp)))
        return claim, inside


def check_job_header(label, doc, errors):
    if doc.get("apiVersion") != "batch/v1":
        errors.append(f"{label}: apiVersion {doc.get('apiVersion')!r}, expected batch/v1")
    if doc.get("kind") != "Job":
        errors.append(f"{label}: kind {doc.get('kind')!r}, expected Job")


def check(docs):
    """Every problem found, as one line each; empty when the manifests are right."""
    errors = []
    pvc = docs[PVC]
    claim = get(pvc, "metadata", "name")
    if pvc.get("apiVersion") != "v1" or pvc.get("kind") != "PersistentVolumeClaim":
        errors.append(f"{PVC}: expected apiVersion v1, kind PersistentVolumeClaim")
    if "ReadWriteMany" not in (get(pvc, "spec", "accessModes") or []):
        errors.append(f"{PVC}: accessModes must include ReadWriteMany (the quantize pods "
                      "run on several nodes at once)")
    if not get(pvc, "spec", "resources", "requests", "storage"):
        errors.append(f"{PVC}: no spec.resources.requests.storage")

    if COPY in docs:
        d = docs[COPY]
        if d.get("apiVersion") != "v1" or d.get("kind") != "Pod":
            errors.append(f"{COPY}: expected apiVersion v1, kind Pod")
        Pod(COPY, d.get("spec"), claim, errors)

    # The quantize job.
    q = docs[QUANTIZE]
    check_job_header(QUANTIZE, q, errors)
    qs = q.get("spec") or {}
    if qs.get("completionMode") != "Indexed":
        errors.append(f"{QUANTIZE}: completionMode {qs.get('completionMode')!r}, expected "
                      "Indexed (JOB_COMPLETION_INDEX is set only then)")
    limits = {k: qs[k] for k in ("backoffLimitPerIndex", "backoffLimit") if k in qs}
    if not limits or any(not isinstance(v, int) or v > 3 for v in limits.values()):
        errors.append(f"{QUANTIZE}: set backoffLimitPerIndex (or backoffLimit) to 3 or less, "
                      f"not {limits or 'the default 6'}")
    qpod_spec = get(qs, "template", "spec") or {}
    if qpod_spec.get("restartPolicy") != "Never":
        errors.append(f"{QUANTIZE}: restartPolicy {qpod_spec.get('restartPolicy')!r}, "
                      "expected Never")
    names = {c.get("name") for c in qpod_spec.get("containers") or []}
    for rule in get(qs, "podFailurePolicy", "rules") or []:
        name = get(rule, "onExitCodes", "containerName")
        if name is not None and name not in names:
            errors.append(f"{QUANTIZE}: podFailurePolicy names container {name!r}, not one "
                          f"of {sorted(names)}")
    qpod = Pod(QUANTIZE, qpod_spec, claim, errors)
    parts = out = None
    if qpod.argv is None:
        errors.append(f"{QUANTIZE}: expected exactly one container running sutra")
    else:
        command, positionals, options = parse_sutra(qpod.argv)
        if command != "quantize":
            errors.append(f"{QUANTIZE}: runs `sutra {command}`, expected quantize")
        if options.get("--part") != ["env"]:
            errors.append(f"{QUANTIZE}: expected --part env (the part from "
                          f"JOB_COMPLETION_INDEX), got {options.get('--part')}")
        n = one(options, "--parts")
        if n is None or not n.isdigit() or int(n) < 1:
            errors.append(f"{QUANTIZE}: expected one --parts N, got {options.get('--parts')}")
        else:
            parts = int(n)
            for key in ("completions", "parallelism"):
                if qs.get(key) != parts:
                    errors.append(f"{QUANTIZE}: {key} {qs.get(key)!r} differs from "
                                  f"--parts {parts}")
        if len(positionals) != 1:
            errors.append(f"{QUANTIZE}: expected one MODEL, got {positionals}")
        else:
            qpod.place(positionals[0], "model")
        for opt in READ_OPTIONS:
            for v in options.get(opt) or []:
                qpod.place(v, opt + " file")
        out = one(options, "-o")
        if out is None:
            errors.append(f"{QUANTIZE}: expected one -o OUT.qbin")
        elif parts is not None:
            out_place = qpod.place(out, "-o output", write=True)
            part_places = [qpod.place(f"{out}.part-{k}-of-{parts}", "part file", write=True)
                           for k in range(1, parts + 1)]

    # The merge job.
    m = docs[MERGE]
    check_job_header(MERGE, m, errors)
    ms = m.get("spec") or {}
    if ms.get("completionMode", "NonIndexed") != "NonIndexed" or \
            ms.get("completions", 1) != 1 or ms.get("parallelism", 1) != 1:
        errors.append(f"{MERGE}: expected one pod (no completionMode Indexed, completions "
                      "and parallelism 1)")
    mpod_spec = get(ms, "template", "spec") or {}
    if mpod_spec.get("restartPolicy") not in ("Never", "OnFailure"):
        errors.append(f"{MERGE}: restartPolicy {mpod_spec.get('restartPolicy')!r}, expected "
                      "Never or OnFailure")
    mpod = Pod(MERGE, mpod_spec, claim, errors)
    if mpod.argv is None:
        errors.append(f"{MERGE}: expected exactly one container running sutra (an `sh -c` "
                      "script must be one command)")
    elif qpod.argv is not None and out is not None and parts is not None:
        command, inputs, options = parse_sutra(mpod.argv)
        if command != "merge":
            errors.append(f"{MERGE}: runs `sutra {command}`, expected merge")
        if qpod.container.get("image") != mpod.container.get("image"):
            errors.append(f"{MERGE}: image {mpod.container.get('image')!r} differs from the "
                          f"quantize job's {qpod.container.get('image')!r}")
        mout = one(options, "-o")
        if mout is None:
            errors.append(f"{MERGE}: expected one -o OUT.qbin")
        else:
            place = mpod.place(mout, "-o output", write=True)
            if place != out_place:
                errors.append(f"{MERGE}: writes {mout} (on the volume: {place}), not the "
                              f"quantize job's -o {out} ({out_place})")
        expected = {p for p in part_places if p is not None}
        # Names a glob must not match: another N's parts, the output itself.
        strangers = set()
        if out_place is not None:
            strangers = {out_place, (out_place[0], f"{out_place[1]}.part-1-of-{parts + 1}")}
        matched = []
        for path in inputs:
            place = mpod.place(path, "part file")
            if place is None:
                continue
            if any(ch in path for ch in "*?["):
                hits = [p for p in expected if p[0] == place[0] and
                        fnmatch.fnmatchcase(p[1], place[1])]
                if any(s[0] == place[0] and fnmatch.fnmatchcase(s[1], place[1])
                       for s in strangers):
                    errors.append(f"{MERGE}: glob {path} also matches files that are not "
                                  f"parts of {parts}")
            else:
                hits = [place] if place in expected else []
            if not hits:
                errors.append(f"{MERGE}: input {path} (on the volume: {place}) is not one of "
                              f"the quantize job's {parts} part files")
            matched.extend(hits)
        for p in sorted(expected):
            c = matched.count(p)
            if c != 1:
                errors.append(f"{MERGE}: part {p[1]} on claim {p[0]} is read {c} times, "
                              "expected once")
    return errors


# Mutations that the checks must catch: (what, change, text the error must contain).
def q_container(d):
    return d[QUANTIZE]["spec"]["template"]["spec"]["containers"][0]


def m_container(d):
    return d[MERGE]["spec"]["template"]["spec"]["containers"][0]


def set_arg(container, flag, value):
    cmd = container["command"]
    cmd[cmd.index(flag) + 1] = value


def mount(container, path):
    return next(m for m in container["volumeMounts"] if m["mountPath"] == path)


def drop_part(d, k):
    m_container(d)["command"] = [a for a in m_container(d)["command"]
                                 if not a.endswith(f".part-{k}-of-4")]


def merge_script(d, script):
    m_container(d)["command"] = ["sh", "-c", script]


MUTATIONS = [
    ("completions 3 vs --parts 4", lambda d: d[QUANTIZE]["spec"].update(completions=3),
     "completions 3 differs"),
    ("parallelism 2 vs --parts 4", lambda d: d[QUANTIZE]["spec"].update(parallelism=2),
     "parallelism 2 differs"),
    ("--parts 5 vs completions 4", lambda d: set_arg(q_container(d), "--parts", "5"),
     "differs from --parts 5"),
    ("completionMode NonIndexed",
     lambda d: d[QUANTIZE]["spec"].update(completionMode="NonIndexed"), "completionMode"),
    ("--part 1/4 instead of env", lambda d: set_arg(q_container(d), "--part", "1/4"),
     "--part env"),
    ("restartPolicy OnFailure",
     lambda d: d[QUANTIZE]["spec"]["template"]["spec"].update(restartPolicy="OnFailure"),
     "restartPolicy"),
    ("the /work mount moved to /scratch",
     lambda d: mount(q_container(d), "/work").update(mountPath="/scratch"),
     "is not under any mountPath"),
    ("calibration text outside the mounts",
     lambda d: set_arg(q_container(d), "--calib-text", "/tmp/calib.txt"),
     "is not under any mountPath"),
    ("output on the read-only model mount",
     lambda d: set_arg(q_container(d), "-o", "/models/out.qbin"), "is read-only"),
    ("a volume name typo", lambda d: q_container(d)["volumeMounts"][0].update(name="wrok"),
     "names no volume"),
    ("merge on another claim",
     lambda d: d[MERGE]["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]
     .update(claimName="other"), "not the claim"),
    ("merge mount on another subPath",
     lambda d: mount(m_container(d), "/work").update(subPath="out"),
     "is not one of the quantize job's"),
    ("merge misses part 3", lambda d: drop_part(d, 3), "read 0 times"),
    ("merge lists part 2 twice",
     lambda d: m_container(d)["command"].insert(2, "/work/out/Llama-3.2-1B.qbin.part-2-of-4"),
     "read 2 times"),
    ("merge glob that matches other parts too",
     lambda d: merge_script(d, "sutra merge /work/out/Llama-3.2-1B.qbin.part-* "
                               "-o /work/out/Llama-3.2-1B.qbin"), "also matches"),
    ("merge writes elsewhere",
     lambda d: set_arg(m_container(d), "-o", "/work/out/other.qbin"), "not the quantize job"),
    ("PVC ReadWriteOnce",
     lambda d: d[PVC]["spec"].update(accessModes=["ReadWriteOnce"]), "ReadWriteMany"),
]

# Changes the checks must accept.
ACCEPTED = [
    ("merge by `sh -c` and a glob of the 4 parts",
     lambda d: merge_script(d, "exec sutra merge /work/out/Llama-3.2-1B.qbin.part-*-of-4 "
                               "-o /work/out/Llama-3.2-1B.qbin --force")),
]


def self_check(docs):
    """Lines of the self-check and whether every case came out as it should."""
    lines, ok = [], True
    for what, change, needle in MUTATIONS:
        d = copy.deepcopy(docs)
        try:
            change(d)
        except (KeyError, IndexError, ValueError, StopIteration) as e:
            lines.append(f"self-check FAILED: cannot apply '{what}' ({e!r}): the manifests "
                         "changed shape; update MUTATIONS")
            ok = False
            continue
        hits = [e for e in check(d) if needle in e]
        if hits:
            lines.append(f"self-check: caught {what}: {hits[0]}")
        else:
            lines.append(f"self-check FAILED: '{what}' not caught (no error containing "
                         f"{needle!r})")
            ok = False
    for what, change in ACCEPTED:
        d = copy.deepcopy(docs)
        change(d)
        errs = check(d)
        if errs:
            lines.append(f"self-check FAILED: '{what}' refused: {errs[0]}")
            ok = False
        else:
            lines.append(f"self-check: accepted {what}")
    return lines, ok


def main():
    here = Path(__file__).resolve().parent
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else here.parent.parent / "deploy/k8s"
    try:
        docs = load(directory)
    except (OSError, ValueError, yaml.YAMLError) as e:
        print(f"FAIL: {e}")
        return 1
    errors = check(docs)
    for e in errors:
        print(f"FAIL: {e}")
    if not errors:
        print(f"pass: {', '.join(sorted(docs))} in {directory}")
    lines, ok = self_check(docs)
    print("\n".join(lines))
    return 0 if not errors and ok else 1


if __name__ == "__main__":
    sys.exit(main())
