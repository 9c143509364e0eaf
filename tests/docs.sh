#!/usr/bin/env bash
# docs.sh - the transcripts in the docs are what the tool prints: every code
# block of docs/*.md that is one command line "$ backprop ..." followed by its
# output is run (from the repository root) and its standard output compared
# with the block. Blocks of several commands, or with --out, are illustrations
# and are left alone. Numbers may differ in their last digits (1e-12
# relative): f64 products come from the BLAS, whose kernel, and so whose
# rounding, depends on the CPU.
#   bash tests/docs.sh BACKPROP            check
#   bash tests/docs.sh BACKPROP --update   rewrite the blocks with the tool's output
set -u
BP=$(readlink -f "${1:?usage: bash tests/docs.sh /path/to/backprop [--update]}")
UPDATE=${2:-}
pass=0
fail=0
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# same_up_to_rounding WANT OUT: the same lines, with every number equal to
# 1e-12 relative and everything between numbers equal
same_up_to_rounding() {
    awk -v other="$2" '
        function split_nums(s, nums, rest,   n, r) {
            n = 0; r = ""
            while (match(s, /-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?/)) {
                r = r substr(s, 1, RSTART - 1) "#"
                nums[++n] = substr(s, RSTART, RLENGTH) + 0
                s = substr(s, RSTART + RLENGTH)
            }
            rest[0] = r s
            return n
        }
        {
            if ((getline o < other) <= 0) exit 1
            na = split_nums($0, a, ra); nb = split_nums(o, b, rb)
            if (na != nb || ra[0] != rb[0]) exit 1
            for (i = 1; i <= na; i++) {
                d = a[i] - b[i]; if (d < 0) d = -d
                m = a[i] < 0 ? -a[i] : a[i]; mb = b[i] < 0 ? -b[i] : b[i]; if (mb > m) m = mb
                if (d > 1e-12 * m) exit 1
            }
        }
        END { if ((getline o < other) > 0) exit 1 }' "$1"
}
for doc in docs/*.md; do
    # blocks: start line, end line, the command
    awk '/^```/ { if (inb) { print s "\t" NR "\t" cmd "\t" n; inb = 0 } else { inb = 1; s = NR; cmd = ""; n = 0 }; next }
         inb && /^\$ / { n++; if (n == 1) cmd = substr($0, 3) }' "$doc" >"$T/blocks"
    cp "$doc" "$T/new.md"
    shift_by=0
    while IFS=$'\t' read -r start end cmd n; do
        [ "$n" = 1 ] || continue
        case $cmd in backprop\ *) ;; *) continue ;; esac
        case $cmd in *--out*|*'>'*|*'|'*|*...*) continue ;; esac
        [ "$(sed -n "$((start + 1))p" "$doc")" = "\$ $cmd" ] || continue   # the command opens the block
        eval "set -- ${cmd#backprop }"
        "$BP" "$@" >"$T/out" 2>&1   # an error transcript shows the message
        sed -n "$((start + 2)),$((end - 1))p" "$doc" >"$T/want"
        if cmp -s "$T/out" "$T/want" || { [ "$UPDATE" != --update ] && same_up_to_rounding "$T/want" "$T/out"; }; then
            pass=$((pass + 1))
        elif [ "$UPDATE" = --update ]; then
            # replace lines start+2 .. end-1 of the (shifted) copy with the output
            s=$((start + 2 + shift_by)) e=$((end - 1 + shift_by))
            { head -n $((s - 1)) "$T/new.md"; cat "$T/out"; tail -n +$((e + 1)) "$T/new.md"; } >"$T/tmp.md"
            mv "$T/tmp.md" "$T/new.md"
            shift_by=$((shift_by + $(wc -l <"$T/out") - (e - s + 1)))
            echo "updated $doc:$start: $cmd"
        else
            fail=$((fail + 1))
            echo "FAIL: $doc:$start: '$cmd' prints something else:" >&2
            diff "$T/want" "$T/out" | head -10 >&2
        fi
    done <"$T/blocks"
    [ "$UPDATE" = --update ] && ! cmp -s "$doc" "$T/new.md" && cp "$T/new.md" "$doc"
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
