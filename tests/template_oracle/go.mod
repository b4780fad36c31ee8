module gert/templateoracle

go 1.22
