FROM busybox
RUN --mount=type=tmpfs,target=/t,from=busybox true
