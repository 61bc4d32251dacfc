FROM alpine:3.19
RUN apk update && apk add curl wget bash
RUN wget -O /tmp/tool.tgz https://example.com/tool.tgz && tar xzf /tmp/tool.tgz -C /usr/local/bin
RUN curl -sSL https://example.com/install.sh | bash
ADD entrypoint.sh /entrypoint.sh
ENTRYPOINT /entrypoint.sh
