FROM busybox
COPY --nope=1 a b
