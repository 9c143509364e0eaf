#!/usr/bin/env bash
# layers.sh - the layer rule of docs/architecture.md, checked two ways:
#  1. includes: a file under src/LAYER/ includes only backprop.h and headers
#     of its own layer or a lower one, always by their layered path
#     ("core/error.h"); cli/ may include any library header;
#  2. calls: in the built library, no object file uses a symbol defined in a
#     file of a higher layer, and no files call each other in a circle
#     (read from the objects' symbol tables with nm).
# Run from the repository root: bash tests/layers.sh BUILD_DIR
set -u
BUILD=${1:?usage: bash tests/layers.sh BUILD_DIR}
LAYERS="core autodiff data nn io teach"
pass=0
fail=0
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

rank() { # LAYER -> 0..5, or nothing
    local i=0 l
    for l in $LAYERS; do
        [ "$l" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
}

# ---- 1. includes
for layer in $LAYERS; do
    [ -d "src/$layer" ] || { bad "src/$layer is missing"; continue; }
    own=$(rank "$layer")
    for f in src/"$layer"/*.[ch]; do
        while IFS= read -r inc; do
            case $inc in
            backprop.h) pass=$((pass + 1)); continue ;;
            */*) ;;
            *) bad "$f includes \"$inc\": include library headers by their layered path (\"$layer/$inc\")"; continue ;;
            esac
            [ -f "src/$inc" ] || { bad "$f includes \"$inc\", which is not a file under src/"; continue; }
            r=$(rank "${inc%%/*}")
            if [ -z "$r" ]; then bad "$f includes \"$inc\": ${inc%%/*} is not a layer"
            elif [ "$r" -gt "$own" ]; then bad "$f ($layer) includes \"$inc\" of the higher layer ${inc%%/*}"
            else pass=$((pass + 1)); fi
        done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
    done
done
for f in src/*.[ch]; do
    [ -e "$f" ] && bad "$f lies outside the layer folders"
done
for f in cli/*.[ch]; do
    if grep -q '^[[:space:]]*#[[:space:]]*include[[:space:]]*"\.\./' "$f"; then bad "$f includes by a relative path"
    else pass=$((pass + 1)); fi
done

# ---- 2. calls, from the objects of the library
OBJ="$BUILD/CMakeFiles/backprop.dir/src"
if [ ! -d "$OBJ" ]; then
    bad "no objects under $OBJ (build the library first)"
else
    syms=$(mktemp)
    trap 'rm -f "$syms"' EXIT
    for layer in $LAYERS; do
        for o in "$OBJ/$layer"/*.o; do
            [ -e "$o" ] || continue
            name="$layer/$(basename "$o" .o)"
            "${NM:-nm}" "$o" | awk -v f="$name" -v r="$(rank "$layer")" '
                NF == 3 && $2 ~ /^[TDBRCVWi]$/ { print "D", f, r, $3 }
                NF == 2 && $1 == "U" { print "U", f, r, $2 }'
        done
    done >"$syms"
    # every use of a symbol defined in another library file: an edge user -> definer
    report=$(awk '
        $1 == "D" { def[$4] = $2; drank[$4] = $3 }
        $1 == "U" { use[++n] = $2; urank[n] = $3; usym[n] = $4 }
        END {
            for (i = 1; i <= n; i++) {
                s = usym[i]
                if (!(s in def) || def[s] == use[i]) continue
                if (drank[s] > urank[i]) print "UP", use[i], "calls", s, "of", def[s]
                e = use[i] " " def[s]
                if (!(e in seen)) { seen[e] = 1; adj[use[i]] = adj[use[i]] " " def[s]; nodes[use[i]] = 1; nodes[def[s]] = 1 }
                edges++
            }
            print "EDGES", edges
            # a circle: depth-first search for a back edge
            for (v in nodes) color[v] = 0
            for (v in nodes) if (!color[v]) dfs(v, 1)
        }
        function dfs(v, d,    k, m, w, parts, i, c) {
            color[v] = 1
            stack[d] = v
            m = split(adj[v], parts, " ")
            for (k = 1; k <= m; k++) {
                w = parts[k]
                if (color[w] == 1) {   # a back edge: the circle is stack[i..d] -> w
                    for (i = d; stack[i] != w; i--) ;
                    c = ""
                    for (; i <= d; i++) c = c " " stack[i] " ->"
                    print "CIRCLE", c " " w
                } else if (!color[w]) dfs(w, d + 1)
            }
            color[v] = 2
        }' "$syms")
    edges=$(sed -n 's/^EDGES //p' <<<"$report")
    if [ "${edges:-0}" -lt 50 ]; then bad "only ${edges:-0} calls between library files found: is nm reading the objects?"
    else pass=$((pass + 1)); fi
    while IFS= read -r line; do
        case $line in
        UP*) bad "a call up the layers: ${line#UP }" ;;
        CIRCLE*) bad "files call each other in a circle:${line#CIRCLE}" ;;
        esac
    done <<<"$report"
    grep -q '^UP\|^CIRCLE' <<<"$report" || pass=$((pass + 1))
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
