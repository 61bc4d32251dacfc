FROM busybox
RUN --mount=type=cache,target=/root/.cache true
