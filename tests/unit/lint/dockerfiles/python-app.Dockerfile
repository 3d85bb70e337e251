FROM python:latest
MAINTAINER someone@example.com
RUN apt-get update
RUN apt-get install -y gcc libpq-dev
WORKDIR app
COPY . .
RUN pip install -r requirements.txt
RUN cd /app && python setup.py build | tee build.log
EXPOSE 8000
CMD gunicorn app:app
