FROM busybox
RUN --mount=type=bind,source=/,target=/h,bind-propagation=rshared true
