FROM busybox
RUN --mount=type=cache,target=/root/.cache,sharing=locked,id=c1 --mount=type=secret,id=tok,env=TOKEN --mount=type=bind,from=busybox,source=/bin,target=/b,rw true
