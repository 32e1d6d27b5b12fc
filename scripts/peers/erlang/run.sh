#!/bin/sh
# erlang-processes: the BEAM, started for the contract (scripts/peers/erlang/conclab.erl).
#
# A wrapper, because the BEAM meets SIGINT with its break handler, a menu that then exits 0
# (or with +B, exits 0 at once), where the contract wants a Ctrl-C to end a run as it ends
# any other program. So the BEAM runs as this shell's child, and SIGINT and SIGTERM reach it
# as SIGTERM: a run dies of it, a server finishes its requests and reports (conclab.erl).
# This shell then ends as the signal says: 128 + its number, or a server's 0.
#
# +P: room for 1,048,576 processes (the default is 262,144), so that the scale sweep's
# million tasks each get one. The table is allocated whole: 4,194,304 would add 46 MiB to
# every run's RSS.
here=$(dirname "$0")
# A crash dump is a file in the caller's folder for a crash the stderr already names: none.
export ERL_CRASH_DUMP_SECONDS=0
beams=${CONCLAB_ERLANG_BEAMS:-$here/../../../.venv/erlang-peer}
erl +P 1048576 -noshell -pa "$beams" -conclab_roster "$here/../../../roster.toml" \
    -s conclab main -extra "$@" &
child=$!
got=""
trap 'got=2; kill -TERM $child 2>/dev/null' INT
trap 'got=15; kill -TERM $child 2>/dev/null' TERM
while :; do
    wait $child
    status=$?
    kill -0 $child 2>/dev/null || break
done
if [ -n "$got" ] && [ $status -ne 0 ]; then
    exit $((128 + got))
fi
exit $status
