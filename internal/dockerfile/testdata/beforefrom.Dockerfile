ARG X=1
RUN true
FROM busybox
