# syntax=docker/dockerfile:1
ARG NODE=20
FROM node:${NODE}-alpine AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build
RUN apk add --no-cache curl && wget https://example.com/x.tgz
FROM nginx:1.27 AS Runtime
COPY --from=build /src/dist /usr/share/nginx/html
COPY --from=builder /etc/x /etc/x
USER root
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
