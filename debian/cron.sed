# debian/cron.sed - /etc/cron.d/safbackup of the package, from
# cron/safbackup: each job runs as the package's user safbackup (not
# the example's saf), and only where systemd is not running (there the
# safbackup-*.timer units do the same jobs), so the two never both run.
1a\
#\
# Installed by the Debian package: the jobs run as the user safbackup and\
# do nothing where systemd runs ([ -d /run/systemd/system ]), since the\
# safbackup-*.timer units do the same there. To use cron on a systemd\
# host instead, disable the timers and remove that test from each line.\
# See /usr/share/doc/safbackup/OPERATIONS.md ("systemd or cron").
s/^(([^#[:space:]]+[[:space:]]+){5})saf([[:space:]]+)(.*)$/\1safbackup\3[ -d \/run\/systemd\/system ] || \4/
# The optional, commented metrics line (no timer does it): its user only.
s/^#(([^#[:space:]]+[[:space:]]+){5})saf([[:space:]]+backup-cron metrics )/#\1safbackup\3/
