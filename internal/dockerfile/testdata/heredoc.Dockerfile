FROM busybox
RUN <<EOF
echo one
echo two > /two
EOF
RUN <<-SCRIPT bash
	set -e
	echo tabbed
	SCRIPT
COPY <<EOT /etc/motd
Hello $USER
EOT
COPY <<'EOT' /etc/raw
Hello $USER
EOT
