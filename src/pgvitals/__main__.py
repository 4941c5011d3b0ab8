from pgvitals.cli import main

main()
