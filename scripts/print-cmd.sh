# print-cmd.sh: sourced by boot-qemu.sh and boot-ch.sh for --dry-run.
# print_cmd ARGV...: one argument per line, or, when $dry is "sh", one
# shell-quoted line that reads like the documented examples.

# Shell-quote only where needed.
shq() {
	if [[ $1 =~ ^[A-Za-z0-9_./,:=+@%-]+$ ]]; then
		printf '%s' "$1"
	else
		printf "'%s'" "${1//\'/\'\\\'\'}"
	fi
}

print_cmd() {
	if [ "$dry" = sh ]; then
		local a sep=''
		for a in "$@"; do
			printf '%s%s' "$sep" "$(shq "$a")"
			sep=' '
		done
		echo
	else
		printf '%s\n' "$@"
	fi
}
