#!/bin/bash
# The image's healthcheck: /-/ready answers 200, asked with the password like any client
# (Prometheus's web config puts every path behind basic auth). bash only: no curl in the image.
set -euo pipefail
password=$(</run/secrets/prometheus_password)
credentials=$(printf 'admin:%s' "$password" | base64 --wrap=0)
exec 3<>/dev/tcp/127.0.0.1/9090
printf 'GET /-/ready HTTP/1.0\r\nAuthorization: Basic %s\r\n\r\n' "$credentials" >&3
read -r status <&3
[[ $status == *' 200 '* ]]
