# A deliberately broken release for the rollback exercise: the good customers image, with a
# healthcheck that always fails. The application itself has no failure switch; swarm sees a
# task that never becomes healthy and rolls the update back.
#   python -m ops.images build --broken --tag v3
ARG GOOD_IMAGE
FROM ${GOOD_IMAGE}
LABEL org.opencontainers.image.description="customers with an always-failing healthcheck (rollback exercise)"
HEALTHCHECK --interval=5s --timeout=2s --start-period=5s --retries=2 \
    CMD ["python", "-c", "raise SystemExit('deliberately unhealthy image (rollback exercise)')"]
