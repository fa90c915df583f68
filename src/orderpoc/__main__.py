from orderpoc.cli import main

main()
