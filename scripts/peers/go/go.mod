module conclab/peers/go

go 1.22
