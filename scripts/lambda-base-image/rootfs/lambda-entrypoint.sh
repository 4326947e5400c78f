#!/bin/sh
# The base image's entry point: the function's bootstrap, under the Runtime Interface
# Emulator when no Lambda Runtime API is given. (SAM CLI sets its own entry point.)
export _HANDLER="${1:-bootstrap}"
bootstrap=/var/task/bootstrap
for b in /var/runtime/bootstrap /var/task/bootstrap /opt/bootstrap; do
  if [ -x "$b" ]; then bootstrap=$b; break; fi
done
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ] && [ -x /var/rapid/aws-lambda-rie ]; then
  exec /var/rapid/aws-lambda-rie "$bootstrap"
fi
exec "$bootstrap"
