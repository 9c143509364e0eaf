#!/usr/bin/env bash
# docs.sh - the transcripts in the docs are what the tool prints: every code
# block of docs/*.md that is one command line "$ backprop ..." followed by its
# output is run (from the repository root) and its standard output compared
# with the block. Blocks of several commands, or with --out, are illustrations
# and are left alone.
#   bash tests/docs.sh BACKPROP            check
#   bash tests/docs.sh BACKPROP --update   rewrite the blocks with the tool's output
set -u
BP=$(readlink -f "${1:?usage: bash tests/docs.sh /path/to/backprop [--update]}")
UPDATE=${2:-}
pass=0
fail=0
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
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
        if cmp -s "$T/out" "$T/want"; then
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
