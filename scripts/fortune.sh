#!/bin/sh
# SPDX-License-Identifier: ISC
# fortune: `!fortune` answers with a short saying.
#
# The pattern: a behaviour written as a shell script. bothost starts it with
# its context in environment variables (BOTKIT_TARGET: where to answer,
# BOTKIT_NICK: who asked, BOTKIT_ARGS: the words after the command, ...) and
# BOTKIT_SOCKET, the host's socket, so that every botctl the script runs
# opens its own connection to the host. botctl says nothing on success and
# exits with status 1 (and a message on stderr) when the host refuses.
#
#   [command fortune]
#   exec = /usr/local/libexec/bothost/fortune.sh
#
# The saying comes from fortune(6) when it is installed, else from the list
# below. $BOTCTL names the botctl to run: bothost sets it to the botctl
# beside its own executable (default: the one in PATH).
set -eu

botctl=${BOTCTL:-botctl}
if [ -z "${BOTKIT_TARGET:-}" ]; then
	echo "fortune: BOTKIT_TARGET is not set (run by bothost, or set it)" >&2
	exit 1
fi

# fortune(6) lives outside the PATH bothost gives its behaviours.
saying=
for f in /usr/games/fortune /usr/bin/fortune; do
	if [ -x "$f" ]; then
		saying=$("$f" -s 2>/dev/null) || saying=
		break
	fi
done
if [ -z "$saying" ]; then
	saying=$(shuf -n 1 <<'SAYINGS'
A watched pot never boils, but an unwatched log fills the disk.
There is no place like 127.0.0.1.
Every program has at least one bug and can be shortened by one line.
Measure twice, cut once.
The best time to plant a tree was twenty years ago; the second best is now.
Simple things should be simple; complex things should be possible.
To err is human; to really foul things up takes a cron job.
Fortune favours the prepared mind.
SAYINGS
)
fi

# Several lines become several messages: the host splits on line feeds.
exec "$botctl" say "$BOTKIT_TARGET" "${BOTKIT_NICK:+$BOTKIT_NICK: }$saying"
