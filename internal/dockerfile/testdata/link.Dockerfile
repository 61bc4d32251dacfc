FROM busybox
COPY --link --parents --exclude=*.log --exclude=tmp/ a/./b /a/
ADD --link --exclude=x a.tar /t/
