# A typical Flask app on the official python image, as tutorials write it.
FROM python:3.12-slim

WORKDIR /usr/src/app

RUN apt-get update && apt-get install -y gcc libpq-dev
RUN pip install --upgrade pip
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

ENV FLASK_APP=app.py
ENV SECRET_KEY=changeme

EXPOSE 5000
CMD flask run --host=0.0.0.0
