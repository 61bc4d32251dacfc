# escape=`
FROM busybox
RUN echo a `
    b
COPY c:\x /y
