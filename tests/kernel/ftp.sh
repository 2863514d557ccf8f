# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# ftp.sh: vsftpd and a scripted FTP client, for the scripts that move files
# through Dyper by FTP (tests/e2e/apps.sh, scripts/demo.sh).  SOURCED, never
# run: it is not executable, so tests/check.sh leaves it alone.

# The passive download in two halves (see its docstring): login and PASV,
# then the download once the caller creates a file.
# shellcheck disable=SC2034 # used by the scripts that source this file
PASV_CLIENT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/pasv_client.py

# vsftpd_conf FILE ADDR PORT TLS [SECCOMP [LOCAL-USER]]: a standalone vsftpd
# for anonymous download of $PUB (TLS: plain or ftps), its chroot helper
# directory $EMPTY, its log in $LOGD; ftps uses $T/cert.pem and $T/key.pem.
# SECCOMP (YES or NO, default NO) is seccomp_sandbox: Debian's default is NO
# (since 3.0.2-20), because Debian's vsftpd 3.0.3 filter does not list the
# calls glibc 2.33 and later make for stat() and readdir() (newfstatat,
# getdents64) and kills its own session at SIZE, RETR or LIST
# (tests/e2e/apps.sh case 7 tests what Dyper can do under it).  LOCAL-USER:
# that local user may log in too, chrooted to $PUB.  pasv_min_port and
# pasv_max_port stay unset: any port, as a firewall cannot know in advance.
vsftpd_conf() {
	local log

	log=$LOGD/$(basename "$1" .conf).log
	{
		if [[ $2 == *:* ]]; then
			echo "listen=NO"
			echo "listen_ipv6=YES"
			echo "listen_address6=$2"
		else
			echo "listen=YES"
			echo "listen_ipv6=NO"
			echo "listen_address=$2"
		fi
		echo "listen_port=$3"
		echo "background=NO"
		echo "anonymous_enable=YES"
		echo "no_anon_password=YES"
		echo "anon_root=$PUB"
		if [ -n "${6:-}" ]; then
			echo "local_enable=YES"
			echo "userlist_enable=YES"
			echo "userlist_deny=NO"
			echo "userlist_file=$(dirname "$1")/$(basename "$1" .conf).users"
			echo "$6" >"$(dirname "$1")/$(basename "$1" .conf).users"
			echo "chroot_local_user=YES"
			echo "local_root=$PUB"
		else
			echo "local_enable=NO"
		fi
		echo "write_enable=NO"
		echo "secure_chroot_dir=$EMPTY"
		echo "seccomp_sandbox=${5:-NO}"
		echo "pasv_enable=YES"
		echo "port_enable=YES"
		echo "connect_from_port_20=NO"
		echo "xferlog_enable=YES"
		echo "log_ftp_protocol=YES"
		echo "vsftpd_log_file=$log"
		if [ "$4" = ftps ]; then
			echo "ssl_enable=YES"
			echo "allow_anon_ssl=YES"
			echo "force_anon_logins_ssl=YES"
			echo "force_anon_data_ssl=YES"
			echo "rsa_cert_file=$T/cert.pem"
			echo "rsa_private_key_file=$T/key.pem"
			# vsftpd's default (DES-CBC3-SHA) is refused by OpenSSL 3
			echo "ssl_ciphers=HIGH"
		fi
	} >"$1"
}
