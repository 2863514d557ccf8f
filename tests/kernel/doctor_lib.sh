# SPDX-License-Identifier: GPL-2.0-or-later
#
# doctor_lib.sh: checks on dyperctl doctor's last output ($OUT), shared by
# doctor.sh and doctor_devices.sh.  SOURCED after lib.sh, not run.

# out_has DESC REGEX...: ok if a line of $OUT matches each REGEX.
out_has() {
	local desc=$1 re

	shift
	for re in "$@"; do
		if ! grep -Eq -- "$re" <<<"$OUT"; then
			not_ok "$desc (no line matches /$re/)"
			diag_s "$OUT"
			return 1
		fi
	done
	ok "$desc"
}

# refute DESC REGEX: no line of doctor's last output matches REGEX.
refute() {
	if grep -Eq -- "$2" <<<"$OUT"; then
		not_ok "$1"
		diag_s "$(grep -E -- "$2" <<<"$OUT")"
	else
		ok "$1"
	fi
}
