from bgnn_deploy.cli.main import main

main()
