# The benchmark's client for the deployed stack (python -m bench --target swarm): Debian's wrk and
# bench/wrk.lua. bench/swarm.py builds it on the python base the Django images use (the public one
# or the offline one built from Debian packages), so nothing is pulled, and keeps it by a digest of
# its inputs. It runs in the network namespace of a gateway task: the internal listener is
# 127.0.0.1:8081 there, and the services' names resolve through Docker's DNS.
#
# Build context: bench/.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends wrk \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY wrk.lua /bench/wrk.lua
USER 65534:65534
CMD ["wrk", "--version"]
