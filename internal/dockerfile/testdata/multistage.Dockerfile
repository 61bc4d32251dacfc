# syntax=docker/dockerfile:1
# check=skip=StageNameCasing
ARG BASE=busybox
ARG VERSION
FROM $BASE AS build
ARG VERSION=1.0
ENV GREETING="hello world" \
    OTHER=x
WORKDIR /src
COPY --chown=1000:1000 --chmod=0644 a.txt b*.txt ./
RUN echo "$GREETING" > /out && \
    echo $VERSION >> /out
RUN ["/bin/sh", "-c", "true"]

FROM build AS test
RUN --network=none true

FROM scratch
COPY --from=build /out /out
ADD files.tar /data/
LABEL a=b "c d"=e
EXPOSE 80 443/udp
VOLUME ["/data"]
USER nobody:nogroup
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost || exit 1
ONBUILD RUN echo triggered
SHELL ["/bin/sh", "-ec"]
MAINTAINER someone
ENTRYPOINT ["/bin/app"]
CMD echo "$HOME"
