FROM alpine
RUN apk update && apk add bash git
RUN apk add --no-cache openssh=9.7_p1-r0
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN wget -qO- https://example.com/install.sh | bash
RUN useradd -u 1234567 builder
ENV DB_PASSWORD=hunter2 A=1 B=$A
LABEL com.docker.thing=1
ADD app.zip /opt/
ADD https://example.com/file.tar.gz /opt/
COPY a b c
EXPOSE 70000
USER builder
ENTRYPOINT ["/bin/bash"]
ENTRYPOINT ["/bin/sh"]
