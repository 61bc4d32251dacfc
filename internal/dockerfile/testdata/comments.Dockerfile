
  
# only comments
