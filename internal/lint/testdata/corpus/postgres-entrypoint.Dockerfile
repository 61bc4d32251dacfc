# Pattern of the official postgres image (alpine variant), trimmed.
FROM alpine:3.19

RUN set -eux; \
	addgroup -g 70 -S postgres; \
	adduser -u 70 -S -D -G postgres -H -h /var/lib/postgresql -s /bin/sh postgres; \
	mkdir -p /var/lib/postgresql; \
	chown -R postgres:postgres /var/lib/postgresql

ENV LANG en_US.utf8
ENV PG_MAJOR 16
ENV PG_VERSION 16.2
ENV PGDATA /var/lib/postgresql/data

RUN set -eux; \
	apk add --no-cache --virtual .build-deps \
		bison \
		gcc \
		make \
		musl-dev \
	; \
	make -j "$(nproc)" world-bin; \
	make install-world-bin; \
	apk del --no-network .build-deps

RUN mkdir -p "$PGDATA" && chown -R postgres:postgres "$PGDATA" && chmod 1777 "$PGDATA"
VOLUME /var/lib/postgresql/data

COPY docker-entrypoint.sh /usr/local/bin/
ENTRYPOINT ["docker-entrypoint.sh"]

STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
