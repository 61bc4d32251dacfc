FROM maven:3.9-eclipse-temurin-21 as Build
WORKDIR /app
COPY pom.xml .
RUN mvn dependency:go-offline
COPY src ./src
RUN mvn package -DskipTests

FROM eclipse-temurin:21-jre
ARG JAR_FILE=/app/target/*.jar
COPY --from=builder ${JAR_FILE} app.jar
ARG DB_PASSWORD
ENTRYPOINT ["java","-jar","/app.jar"]
