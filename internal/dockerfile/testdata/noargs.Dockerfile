FROM busybox
RUN true
ENV
