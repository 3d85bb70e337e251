FROM fedora:40
RUN dnf install httpd && yum install -y mariadb
RUN zypper install nginx && zypper dup
RUN gem install rails && go install example.com/tool@latest
RUN npm install -g typescript && yarn install
RUN pip3 install requests && sudo apt install vim
WORKDIR /srv
COPY --from=0 / /
USER 1000
