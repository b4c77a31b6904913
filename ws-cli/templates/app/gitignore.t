/target
.env
