echo "no database here"
exit 77
