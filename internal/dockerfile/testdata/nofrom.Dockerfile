ARG X=1
# just a comment
