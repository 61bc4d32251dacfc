FROM busybox
RUN true
FORM busybox
