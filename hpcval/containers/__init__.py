"""Container images for hpcval: Dockerfile recipes (one folder each) and the
offline build -> test -> convert pipeline that turns them into Charliecloud
images (directory and SquashFS) recorded in an image index.

recipes   read and check the Dockerfiles (Docker's own parser), their order
store     the image folder: index.json, content digests, free-space guard
pipeline  debootstrap, ch-image, ch-run and ch-convert, stage by stage
"""
