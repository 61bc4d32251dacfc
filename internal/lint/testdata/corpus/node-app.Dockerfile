FROM node:latest
MAINTAINER dev@example.com
RUN mkdir -p /usr/src/app
RUN cd /usr/src/app
WORKDIR /usr/src/app
COPY package*.json ./
RUN npm install
RUN npm install -g pm2
COPY . .
EXPOSE 3000
CMD ["pm2-runtime", "ecosystem.config.js"]
