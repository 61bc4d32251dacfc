FROM ubuntu:22.04
ENV DEBIAN_FRONTEND noninteractive
RUN apt-get update && apt-get install -y apache2 mysql-server php supervisor
COPY supervisord.conf /etc/supervisor/conf.d/supervisord.conf
COPY id_rsa /root/.ssh/id_rsa
VOLUME /var/lib/mysql /dev/shm
EXPOSE 80 3306
USER root
CMD ["/usr/bin/supervisord", "-n"]
